// lucida's page: search as you type, a grid with infinite scroll, a detail panel, search by photo,
// and the people found in the photos, named in place.
// Plain JavaScript against the JSON API in lucida.web.app; no build step, no external assets.
"use strict";

const DEBOUNCE_MS = 250;

const $ = (selector) => document.querySelector(selector);
const ui = {
  form: $("#search-form"),
  q: $("#q"),
  pick: $("#pick"),
  summary: $("#summary"),
  people: $("#people"),
  peopleList: $("#people-list"),
  notice: $("#notice"),
  grid: $("#grid"),
  weakerBar: $("#weaker-bar"),
  showWeaker: $("#show-weaker"),
  sentinel: $("#sentinel"),
  detail: $("#detail"),
  detailTitle: $("#detail-title"),
  detailClose: $("#detail-close"),
  preview: $("#detail-preview"),
  faces: $("#detail-faces"),
  moreLikeThis: $("#more-like-this"),
  path: $("#detail-path"),
  copyPath: $("#copy-path"),
  whySection: $("#detail-why-section"),
  why: $("#detail-why"),
  captions: $("#detail-captions"),
  meta: $("#detail-meta"),
  drop: $("#drop"),
};

// A token given as ?token= in the page's own URL is sent on with every request.
const token = new URLSearchParams(location.search).get("token");

const PEOPLE_SHOWN = 60; // the row of people: the named, then the largest unnamed groups

// What the grid shows: a text query, photos like one photo, photos like an uploaded file, a
// person's photos, or the photos with a face like one face.
const state = {
  // {kind: "text", query} | {kind: "similar", id, name} | {kind: "image", file}
  // | {kind: "person", name, reference} | {kind: "face", id, name, reference}
  source: null,
  results: [],
  total: 0, // a text query's answers (relevance at or above the cutoff); else every photo ranked
  weaker: 0, // a text query's matches below the cutoff
  weak: false, // whether the weaker matches are listed after the answers ("Show weaker matches")
  done: true,
  loading: false,
  selected: -1,
  generation: 0, // bumped on every new search, so late answers to old ones are dropped
  detailId: null,
  status: null, // the last answer of /api/status
  shownPeople: [], // who the text query's results show (named in it); from the last page
  searchedAs: null, // a text query in another language: the English words it was searched by
  people: [], // the row of people, as /api/people lists them
  peopleTotal: 0,
};

class ApiError extends Error {}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // An answer that is not JSON is reported below by its status.
  }
  if (!response.ok) {
    throw new ApiError((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

// Images load through <img>, which cannot send headers: the token rides along in the URL.
function imageUrl(url) {
  if (!token || !url) return url;
  const u = new URL(url, location.href);
  u.searchParams.set("token", token);
  return u.pathname + u.search;
}

function apiPath(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const s = query.toString();
  return s ? `${path}?${s}` : path;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function basename(path) {
  return path.split(/[\\/]/).pop();
}

function dirname(path) {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i > 0 ? path.slice(0, i) : path;
}

// --- notices: empty catalog, nothing typed yet, errors ---------------------------------------

function showNotice(kind, ...children) {
  ui.notice.replaceChildren(...children);
  ui.notice.className = `notice ${kind}`;
  ui.notice.hidden = false;
}

function hideNotice() {
  ui.notice.hidden = true;
  ui.notice.replaceChildren();
}

function showEmptyCatalog(status) {
  showNotice(
    "empty",
    el("h2", {}, "No photos indexed yet"),
    el("p", {}, "Index a folder of photos, then come back to this page and search them in plain words:"),
    el("pre", {}, el("code", {}, "lucida index PATH")),
    el("p", { class: "muted small" },
      "For example ", el("code", {}, "lucida index ~/Pictures"),
      ". Indexing runs offline and only describes new or changed photos on later runs.",
      status.pending ? ` ${status.pending} photos are found but not yet indexed: run the same command to finish.` : ""),
  );
}

function showWelcome(status) {
  const examples = ["a cat", "a cup of coffee", "a rocket launch", "a horse in a field"];
  const links = examples.flatMap((text, i) => [
    i ? ", " : "",
    el("a", { href: `?q=${encodeURIComponent(text)}`, onclick: (event) => {
      event.preventDefault();
      setQuery(text);
    } }, text),
  ]);
  const count = status.indexed;
  showNotice(
    "welcome",
    el("h2", {}, `Search ${count} photo${count === 1 ? "" : "s"}`),
    el("p", {}, "Describe what a photo shows, for example ", ...links, "."),
    el("p", { class: "muted small" }, "Or drop a photo anywhere on the page to find similar ones. Press ",
      el("code", {}, "/"), " to search, arrow keys to move, Enter to open, Esc to close."),
  );
}

function showError(message) {
  showNotice("error", el("h2", {}, "Something went wrong"), el("p", {}, message));
}

// --- searching --------------------------------------------------------------------------------

function startSearch(source) {
  state.generation += 1;
  state.source = source;
  state.results = [];
  state.total = 0;
  state.weaker = 0;
  state.weak = false;
  state.selected = -1;
  state.done = source === null;
  state.loading = false;
  state.shownPeople = [];
  state.searchedAs = null;
  markActivePerson();
  ui.grid.replaceChildren();
  ui.weakerBar.hidden = true;
  ui.summary.replaceChildren();
  hideNotice();
  if (source === null) {
    loadStatus();
    return;
  }
  loadMore();
}

async function loadMore() {
  if (state.loading || state.done || !state.source) return;
  const generation = state.generation;
  const source = state.source;
  state.loading = true;
  try {
    let page;
    if (source.kind === "text") {
      const all = state.weak ? "true" : null; // the offset then runs on past the answers
      // why=false: the page says why a photo matched in its detail view, which asks for it there.
      page = await api(apiPath("api/search", { q: source.query, k: pageSize(), offset: state.results.length, all, why: "false" }));
    } else if (source.kind === "similar") {
      page = await api(apiPath(`api/similar/${source.id}`, { k: pageSize(), offset: state.results.length }));
    } else if (source.kind === "person") {
      page = await api(apiPath("api/search", { person: source.name, k: pageSize(), offset: state.results.length, why: "false" }));
    } else if (source.kind === "face") {
      page = await api(apiPath(`api/faces/${source.id}/similar`, { k: pageSize(), offset: state.results.length }));
    } else {
      const form = new FormData();
      form.append("file", source.file);
      const path = apiPath("api/search/image", { k: pageSize(), offset: state.results.length });
      page = await api(path, { method: "POST", body: form });
    }
    if (generation !== state.generation) return;
    const seen = new Set(state.results.map((r) => r.id));
    const fresh = page.results.filter((r) => !seen.has(r.id));
    state.total = page.total ?? state.results.length + fresh.length;
    state.weaker = page.weaker ?? 0;
    state.shownPeople = page.people || [];
    state.searchedAs = page.searched_as || null;
    const listed = state.weak ? state.total + state.weaker : state.total;
    state.done = fresh.length === 0 || state.results.length + fresh.length >= listed;
    appendResults(fresh);
    renderSummary(page.took_ms);
    if (state.done) renderEnd();
  } catch (error) {
    if (generation !== state.generation) return;
    state.done = true;
    showError(error.message);
  } finally {
    if (generation === state.generation) {
      state.loading = false;
      // Keep filling while the sentinel is still on screen (a tall window, a short page).
      if (!state.done && sentinelVisible()) loadMore();
    }
  }
}

// A page of results fills about two screens: fewer on a phone, more on a wide monitor.
function pageSize() {
  const cols = columns();
  const side = ui.grid.clientWidth / cols;
  const rows = Math.ceil(window.innerHeight / Math.max(side, 1)) + 1;
  return Math.max(12, Math.min(100, cols * rows * 2));
}

function sentinelVisible() {
  const rect = ui.sentinel.getBoundingClientRect();
  return rect.top < window.innerHeight + 400;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function renderSummary(tookMs) {
  const source = state.source;
  const what =
    source.kind === "text" ? ["for ", el("span", { class: "source" }, `“${source.query}”`)]
    : source.kind === "similar" ? ["like ", el("span", { class: "source" }, source.name)]
    : source.kind === "person" ? ["of ", el("span", { class: "source" }, source.name)]
    : source.kind === "face" ? ["with a face like ", el("span", { class: "source" }, source.name)]
    : ["like the photo ", el("span", { class: "source" }, source.file.name || "you dropped")];
  // A query in another language was searched in English words: say which.
  if (source.kind === "text" && state.searchedAs) {
    what.push(", searched as ", el("span", { class: "source searched-as" }, `“${state.searchedAs}”`), ",");
  }
  // A query that names people ("Grace Hopper in uniform") shows only their photos: say so.
  if (source.kind === "text" && state.shownPeople.length) {
    what.push(", photos of ", el("span", { class: "source" }, state.shownPeople.join(" and ")), ",");
  }
  const count =
    source.kind === "person" || source.kind === "face" ? plural(state.total, "photo", "photos")
    : source.kind !== "text" ? plural(state.total, "result", "results")
    : state.weak ? `${plural(state.total, "answer", "answers")} and ${plural(state.weaker, "weaker match", "weaker matches")}`
    : plural(state.total, "answer", "answers");
  const ms = tookMs < 10 ? tookMs.toFixed(1) : Math.round(tookMs);
  ui.summary.replaceChildren(`${count} `, ...what, ` in ${ms} ms`);
}

// Once the answers are all shown, the weaker matches are a click away; with no answers, say so.
function renderEnd() {
  const offer = state.source.kind === "text" && !state.weak && state.weaker > 0;
  ui.showWeaker.textContent = `Show weaker matches (${state.weaker})`;
  ui.weakerBar.hidden = !offer;
  if (state.results.length > 0) return;
  if (offer) {
    showNotice("none", el("h2", {}, `No photos match “${state.source.query}” well.`),
      el("p", {}, "Try other words, or look through the weaker matches."));
  } else {
    renderNoResults();
  }
}

function showWeakerMatches() {
  if (!state.source || state.source.kind !== "text" || state.weak) return;
  state.weak = true;
  state.done = false;
  ui.weakerBar.hidden = true;
  hideNotice();
  loadMore();
}

function renderNoResults() {
  if (state.status && !state.status.indexed) showEmptyCatalog(state.status);
  else showNotice("none", el("h2", {}, "No matches"), el("p", {}, "Try other words, or a broader description."));
}

// A text query's score is its relevance (0..1, the same scale for every query), shown as a
// percentage; by photo and "more like this", the similarity; by face, the face similarity. A
// person's photos come by date, with no score.
function scoreOf(result) {
  const kind = state.source ? state.source.kind : null;
  if (typeof result.answer === "boolean") return { label: "relevance", value: `${Math.round(result.score * 100)}%` };
  if (kind === "text" || kind === "person") return null;
  return { label: kind === "face" ? "face similarity" : "similarity", value: result.score.toFixed(3) };
}

function appendResults(results) {
  const start = state.results.length;
  state.results.push(...results);
  const nodes = [];
  let divided = ui.grid.querySelector(".divider") !== null;
  results.forEach((result, i) => {
    const weak = result.answer === false;
    if (weak && !divided) {
      nodes.push(el("li", { class: "divider", role: "separator" }, "Weaker matches, below the relevance cutoff"));
      divided = true;
    }
    const score = scoreOf(result);
    nodes.push(el(
      "li",
      { class: weak ? "tile weak" : "tile", role: "option", tabindex: "-1", "aria-selected": "false",
        title: score ? `${score.label} ${score.value} · ${result.caption}` : result.caption,
        dataset: { index: String(start + i), id: String(result.id), path: result.path } },
      el("img", { src: imageUrl(result.thumbnail_url), alt: result.caption, loading: "lazy", decoding: "async",
                  width: "200", height: "200" }),
      el("div", { class: "info" },
        score ? el("span", { class: "score" }, score.value) : null,
        el("div", { class: "caption" }, result.caption)),
    ));
  });
  ui.grid.append(...nodes);
}

function setQuery(text) {
  ui.q.value = text;
  onQueryChanged({ immediate: true });
}

let debounceTimer = null;

function onQueryChanged({ immediate = false } = {}) {
  clearTimeout(debounceTimer);
  const run = () => {
    const query = ui.q.value.trim();
    writeUrl(query);
    if (state.source && state.source.kind === "text" && state.source.query === query) return;
    startSearch(query ? { kind: "text", query } : null);
  };
  if (immediate) run();
  else debounceTimer = setTimeout(run, DEBOUNCE_MS);
}

// The address keeps what the grid shows: ?q=a+cat, or a person's photos, ?person=Grace+Hopper.
function writeUrl(query, person = null) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of [["q", query], ["person", person]]) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const search = params.toString();
  const url = location.pathname + (search ? `?${search}` : "");
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

function searchByImage(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    showError(`${file.name} is not an image`);
    return;
  }
  closeDetail();
  ui.q.value = "";
  writeUrl("");
  startSearch({ kind: "image", file });
}

// --- selection and the detail panel ------------------------------------------------------------

function tiles() {
  return ui.grid.querySelectorAll(".tile"); // not the divider before the weaker matches
}

function select(index) {
  const all = tiles();
  if (all.length === 0) return;
  index = Math.max(0, Math.min(all.length - 1, index));
  if (state.selected >= 0 && all[state.selected]) all[state.selected].setAttribute("aria-selected", "false");
  state.selected = index;
  const tile = all[index];
  tile.setAttribute("aria-selected", "true");
  tile.focus({ preventScroll: true });
  tile.scrollIntoView({ block: "nearest" });
  // Moving past the loaded tiles fetches the next page.
  if (index >= all.length - columns()) loadMore();
}

function columns() {
  const template = getComputedStyle(ui.grid).gridTemplateColumns;
  return Math.max(1, template.split(" ").filter(Boolean).length);
}

async function openDetail(index) {
  const result = state.results[index];
  if (!result) return;
  select(index);
  state.detailId = result.id;
  ui.detail.hidden = false;
  ui.detailTitle.textContent = basename(result.path);
  ui.preview.src = imageUrl(`api/images/${result.id}/preview`);
  ui.preview.alt = result.caption;
  ui.faces.replaceChildren();
  ui.path.textContent = dirname(result.path);
  ui.copyPath.textContent = "Copy";
  ui.captions.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  ui.meta.replaceChildren();
  ui.whySection.hidden = true;
  const query = state.source && state.source.kind === "text" ? state.source.query : null;
  try {
    const image = await api(apiPath(`api/images/${result.id}`, { q: query }));
    if (state.detailId !== result.id) return;
    renderDetail(image, result);
  } catch (error) {
    if (state.detailId !== result.id) return;
    ui.captions.replaceChildren(el("p", { class: "muted" }, error.message));
  }
}

function renderDetail(image, result) {
  const paths = image.paths && image.paths.length ? image.paths : [result.path];
  ui.path.textContent = dirname(paths[0]);
  renderFaces(image.faces || []);

  const descriptions = image.descriptions || [];
  ui.captions.replaceChildren(
    ...(descriptions.length
      ? descriptions.map((d) =>
          el("div", { class: "caption-card" },
            el("p", {}, d.caption || d.text),
            el("div", { class: "by" }, `by ${d.describer}`,
              d.prompt ? ` · prompt “${d.prompt}”` : " · no prompt"),
            // The text search ranks by, when it says more than the caption (a describer's definitions).
            d.caption && d.text !== d.caption
              ? el("details", { class: "search-text" }, el("summary", {}, "search text"), el("p", { class: "small" }, d.text))
              : null,
            d.details && Object.keys(d.details).length
              ? el("details", {}, el("summary", {}, "details"), el("pre", {}, JSON.stringify(d.details, null, 2)))
              : null))
      : [el("p", { class: "muted" }, "No descriptions stored.")]),
  );

  const rows = [];
  const add = (label, value) => {
    if (value !== null && value !== undefined && value !== "") rows.push(el("dt", {}, label), el("dd", {}, value));
  };
  add("Taken", image.taken_at ? formatDate(image.taken_at) : "unknown");
  if (image.width && image.height) add("Size", `${image.width} × ${image.height} px`);
  if (typeof image.file_size === "number") add("File size", formatBytes(image.file_size));
  paths.forEach((path, i) => add(i === 0 ? "Path" : "Also at", path));
  if (image.added_at) add("Indexed", formatDate(image.added_at * 1000));
  add("SHA-256", image.content_hash);
  ui.meta.replaceChildren(...rows);

  if (image.why) {
    ui.whySection.hidden = false;
    ui.why.replaceChildren(...renderWhy(image.why, result));
  }
}

function renderWhy(why, result) {
  const parts = [];
  if (typeof result.answer === "boolean") {
    parts.push(el("p", {}, "Relevance ", el("strong", {}, scoreOf(result).value),
      result.answer ? ": an answer, at or above the cutoff." : ": a weaker match, below the cutoff."));
  }
  // The detail's score is the cosine similarity, not the relevance.
  if (typeof why.score === "number") {
    parts.push(el("p", {}, "Similarity ", el("strong", {}, why.score.toFixed(3)),
      ` between “${why.query}” and the description used for search.`));
  }
  const classes = why.top_classes || [];
  if (classes.length) {
    parts.push(el("p", { class: "muted small" }, "What the describer saw, most likely first:"));
    parts.push(el("ul", { class: "why-classes" }, ...classes.map((c) =>
      el("li", {}, typeof c.p === "number" ? `${c.label} (${(c.p * 100).toFixed(1)}%)` : c.label))));
  } else if (why.description) {
    parts.push(el("p", { class: "muted small" }, why.description));
  }
  return parts;
}

// Boxes over the preview, each with its person's name (or "unnamed"). A box is left, top, width,
// height as fractions of the photo as displayed, so percentages of the frame around the preview.
// Clicking one shows that person's photos, or for an unnamed face the photos with faces like it.
function renderFaces(faces) {
  ui.faces.replaceChildren(...faces.map((face) => {
    const [left, top, width, height] = face.box;
    const pct = (fraction) => `${(fraction * 100).toFixed(3)}%`;
    return el(
      "button",
      { class: face.person ? "face-box" : "face-box unnamed", type: "button",
        style: `left: ${pct(left)}; top: ${pct(top)}; width: ${pct(width)}; height: ${pct(height)}`,
        title: face.person ? `Photos of ${face.person}` : "Photos with a face like this one",
        onclick: () => showFace(face) },
      // Below the face, or above it when the face is near the bottom of the photo.
      el("span", { class: top + height > 0.85 ? "face-label above" : "face-label" }, face.person || "unnamed"),
    );
  }));
}

function showFace(face) {
  if (face.person) showPhotosOf({ kind: "person", name: face.person, reference: face.person });
  else showPhotosOf({ kind: "face", id: face.id, name: unnamedName(face.group), reference: String(face.group) });
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function formatBytes(n) {
  return n < 1e6 ? `${(n / 1e3).toFixed(0)} kB` : `${(n / 1e6).toFixed(1)} MB`;
}

function closeDetail() {
  ui.detail.hidden = true;
  state.detailId = null;
  ui.preview.removeAttribute("src");
  ui.faces.replaceChildren();
  const tile = tiles()[state.selected];
  if (tile) tile.focus({ preventScroll: true });
}

function moreLikeThis() {
  const result = state.results.find((r) => r.id === state.detailId);
  if (!result) return;
  closeDetail();
  ui.q.value = "";
  writeUrl("");
  startSearch({ kind: "similar", id: result.id, name: basename(result.path) });
  window.scrollTo({ top: 0 });
}

async function copyPath() {
  const text = ui.path.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Outside a secure context the clipboard API is missing: fall back to a selection.
    const range = document.createRange();
    range.selectNodeContents(ui.path);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.execCommand("copy");
  }
  ui.copyPath.textContent = "Copied";
}

// --- people: a row of faces above the results, named in place ------------------------------------

async function loadPeople() {
  try {
    const answer = await api(apiPath("api/people", { k: PEOPLE_SHOWN }));
    state.people = answer.people;
    state.peopleTotal = answer.total;
  } catch {
    // The row is an extra; searches report their own errors, the token's included.
    state.people = [];
    state.peopleTotal = 0;
  }
  renderPeople();
}

function unnamedName(group) {
  return group === null ? "an unnamed person" : `unnamed person #${group}`;
}

function renderPeople() {
  const people = state.people;
  ui.people.hidden = people.length === 0;
  const items = people.map((person) => {
    const label = person.name || "unnamed";
    const item = el(
      "li",
      { class: "person", dataset: { reference: person.reference } },
      el("button", { class: "person-face", type: "button", "aria-pressed": "false",
                     title: `${person.name || unnamedName(person.group)}: ${plural(person.photos, "photo", "photos")}`,
                     onclick: () => showPerson(person, item) },
        el("img", { src: imageUrl(person.thumbnail_url), alt: label, loading: "lazy", width: "72", height: "72" })),
      el("button", { class: person.name ? "person-name" : "person-name unnamed", type: "button",
                     title: person.name ? `Rename ${person.name}` : "Name this person",
                     onclick: () => editName(person, item) }, label),
    );
    return item;
  });
  const more = state.peopleTotal - people.length;
  if (more > 0) items.push(el("li", { class: "people-more muted small" }, `and ${more} more`));
  ui.peopleList.replaceChildren(...items);
  markActivePerson();
}

// The face of the person whose photos the grid shows is marked.
function markActivePerson() {
  const source = state.source;
  const active = source && (source.kind === "person" || source.kind === "face") ? source.reference : null;
  for (const item of ui.peopleList.querySelectorAll(".person")) {
    item.querySelector(".person-face").setAttribute("aria-pressed", String(item.dataset.reference === active));
  }
}

// A named person's photos; for an unnamed group, the photos with faces like its face, and its
// name to fill in.
function showPerson(person, item) {
  if (person.name) {
    showPhotosOf({ kind: "person", name: person.name, reference: person.reference });
  } else {
    showPhotosOf({ kind: "face", id: person.sample_face, name: unnamedName(person.group), reference: person.reference });
    editName(person, item);
  }
}

function showPhotosOf(source) {
  if (!ui.detail.hidden) closeDetail();
  ui.q.value = "";
  writeUrl("", source.kind === "person" ? source.name : null);
  startSearch(source);
  window.scrollTo({ top: 0 });
}

function editName(person, item) {
  const input = el("input", { type: "text", value: person.name || "", placeholder: "Add a name",
                              "aria-label": person.name ? `New name for ${person.name}` : "Name this person",
                              maxlength: "200", spellcheck: "false" });
  const save = el("button", { class: "button small", type: "submit" }, "Save");
  const form = el("form", { class: "name-form" }, input, save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveName(person, input, save);
  });
  input.addEventListener("input", () => input.setCustomValidity(""));
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation(); // Esc leaves the name as it was, and nothing else
    renderPeople();
  });
  item.querySelector(".person-name, .name-form").replaceWith(form);
  item.classList.add("editing");
  input.focus();
  input.select();
}

async function saveName(person, input, save) {
  const name = input.value.trim().replace(/\s+/g, " ");
  save.disabled = true;
  try {
    await api("api/people/name", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ person: person.reference, name }),
    });
  } catch (error) {
    save.disabled = false;
    input.setCustomValidity(error.message); // e.g. an empty name, or a number
    input.reportValidity();
    return;
  }
  await loadPeople();
  const named = state.people.find((p) => p.name === name);
  if (named) showPerson(named);
}

// --- status -----------------------------------------------------------------------------------

async function loadStatus() {
  try {
    const status = await api("api/status");
    state.status = status;
    if (state.source !== null) {
      if (!status.indexed && state.results.length === 0 && !state.loading) showEmptyCatalog(status);
      return;
    }
    if (!status.indexed) showEmptyCatalog(status);
    else showWelcome(status);
  } catch (error) {
    if (state.source === null) showError(error.message);
  }
}

// --- events -----------------------------------------------------------------------------------

function isTyping(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "/" && !isTyping(event.target)) {
    event.preventDefault();
    ui.q.focus();
    ui.q.select();
    return;
  }
  if (event.key === "Escape") {
    if (!ui.detail.hidden) {
      event.preventDefault();
      closeDetail();
    } else if (event.target === ui.q) {
      ui.q.blur();
    }
    return;
  }
  const inSearch = event.target === ui.q;
  if (isTyping(event.target) && !(inSearch && event.key === "ArrowDown")) {
    if (inSearch && event.key === "Enter") {
      event.preventDefault();
      onQueryChanged({ immediate: true });
    }
    return;
  }
  const count = tiles().length;
  if (count === 0) return;
  const current = state.selected;
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
  if (step !== undefined) {
    event.preventDefault();
    if (current < 0 || inSearch) select(0);
    else if (event.key === "ArrowUp" && current < columns()) ui.q.focus();
    else select(current + step);
    if (!ui.detail.hidden) openDetail(state.selected);
  } else if (event.key === "Enter" && current >= 0 && ui.detail.hidden) {
    event.preventDefault();
    openDetail(current);
  }
});

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  onQueryChanged({ immediate: true });
});
ui.q.addEventListener("input", () => onQueryChanged());

ui.grid.addEventListener("click", (event) => {
  const tile = event.target.closest(".tile");
  if (tile) openDetail(Number(tile.dataset.index));
});

ui.detailClose.addEventListener("click", closeDetail);
ui.showWeaker.addEventListener("click", showWeakerMatches);
ui.moreLikeThis.addEventListener("click", moreLikeThis);
ui.copyPath.addEventListener("click", copyPath);
ui.pick.addEventListener("change", () => {
  searchByImage(ui.pick.files[0]);
  ui.pick.value = "";
});

// Dropping a photo anywhere searches by it; the overlay shows while a file is dragged over.
let dragDepth = 0;
const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
window.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth += 1;
  ui.drop.hidden = false;
});
window.addEventListener("dragover", (event) => {
  if (carriesFiles(event)) event.preventDefault();
});
window.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.drop.hidden = true;
});
window.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  ui.drop.hidden = true;
  searchByImage(event.dataTransfer.files[0]);
});

new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadMore();
}, { rootMargin: "400px" }).observe(ui.sentinel);

// What the address asks for: a query (/?q=horse), a person's photos (/?person=Grace+Hopper), or nothing yet.
function searchFromUrl() {
  const params = new URLSearchParams(location.search);
  ui.q.value = params.get("q") || "";
  const person = params.get("person");
  if (person && !ui.q.value.trim()) startSearch({ kind: "person", name: person, reference: person });
  else onQueryChanged({ immediate: true });
}

window.addEventListener("popstate", searchFromUrl);

// Start: the query in the URL searches at once; the status says whether there is anything to
// search at all, and the people row who is in the photos.
const asked = new URLSearchParams(location.search);
if ((asked.get("q") || "").trim() || asked.get("person")) loadStatus(); // else the empty search asks for it
loadPeople();
searchFromUrl();
