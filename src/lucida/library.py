"""One photo library: a catalog, the user's config and the models they choose. Every front end
(the CLI, the web app, `lucida watch`, export-xmp) goes through a Library, so each product
decision is made here once:

- which models are active: `choose_model`, one rule for every command;
- the use cases: index, watch, caption, search (by words, by photo, by a photo's id; filters;
  sort; paging), a photo's details, status, XMP export and undo. Each is one method.

Which description stands for a photo is a storage rule (`lucida.catalog.store`, _PREFERENCE_ORDER):
every query the library makes already returns that one.

A Library holds one catalog connection and is used from one thread. Models are loaded on first
use and kept; several Libraries over one catalog (the web app's catalog thread and its index
thread) share them through `ModelSet`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lucida.catalog import CatalogStore, ImageRecord, open_catalog
from lucida.catalog.filter import PhotoFilter
from lucida.catalog.store import ACTIVE_API_BASE, ACTIVE_DESCRIBER, ACTIVE_EMBEDDER, CaptionFailure, SkippedFile
from lucida.config import KEYS as CONFIG_KEYS
from lucida.config import Config
from lucida.errors import LucidaError
from lucida.models.base import Describer, Embedder
from lucida.models.registry import load_now
from lucida.progress import Progress

# Modules that pull in decoders and the search engine are imported where a use case needs them,
# so that `lucida status` or `export-xmp` start without them.
if TYPE_CHECKING:
    from lucida.caption import CaptionSummary
    from lucida.catalog.faces import FaceCounts, PersonGroup, StoredFace
    from lucida.faces import FaceSummary
    from lucida.filters import Sort
    from lucida.indexer import IndexSummary
    from lucida.search import Searcher, SearchResult
    from lucida.xmp_export import Change, ExportOptions

# Roles a model plays, and the commands whose config table may choose it.
DESCRIBER, CAPTIONER, EMBEDDER = "describer", "captioner", "embedder"
INDEX, SEARCH, CAPTION = "index", "search", "caption"
# The config file's key for each role (the index pass's describer is its `captioner`).
_CONFIG_KEY = {DESCRIBER: "captioner", CAPTIONER: "captioner", EMBEDDER: "embedder"}
# Roles the catalog records: the models its descriptions and vectors come from.
_CATALOG_KEY = {DESCRIBER: ACTIVE_DESCRIBER, EMBEDDER: ACTIVE_EMBEDDER}


@dataclass(frozen=True)
class ModelChoice:
    spec: str  # a registry name or explicit spec
    api_base: str | None = None  # the OpenAI-compatible server of an openai: model
    prompt: str | None = None  # a prompt library name or text; None: the model's own


def choose_model(
    role: str,
    command: str,
    config: Config,
    settings: dict[str, str],
    spec: str | None = None,
    prompt: str | None = None,
    api_base: str | None = None,
) -> ModelChoice | None:
    """The model that plays `role` in `command`: what the command line gave, else the config
    file's table for the command, else what the catalog records, else the offline default (for
    indexing; a search of an empty catalog has no embedder, and a captioner must be named).

    The API base follows the same order. The catalog's API base goes only with the models the
    catalog records (the describer and embedder); the config's only with the roles its table
    chooses, so `[caption] api_base` is the captioner's, never the embedder's."""
    from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER

    table = command if _CONFIG_KEY[role] in CONFIG_KEYS.get(command, ()) else None
    from_config = (lambda key: config.get(table, key)) if table else (lambda key: None)
    recorded = settings.get(_CATALOG_KEY[role]) if role in _CATALOG_KEY else None
    default = {DESCRIBER: DEFAULT_DESCRIBER, EMBEDDER: DEFAULT_EMBEDDER}.get(role) if command == INDEX else None
    chosen = _first(spec, from_config(_CONFIG_KEY[role]), recorded, default)
    if chosen is None:
        return None
    catalog_base = settings.get(ACTIVE_API_BASE) if role in _CATALOG_KEY else None
    return ModelChoice(
        chosen,
        _first(api_base, from_config("api_base"), catalog_base),
        _first(prompt, from_config("prompt")) if role != EMBEDDER else None,
    )


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v is not None), None)


class ModelSet:
    """Loaded models, by what was asked for, so a spec loads once per process. Models given at
    construction (a test's, a server's already loaded ones) stand for their role whatever the
    rule would choose."""

    def __init__(self, describer: Describer | None = None, embedder: Embedder | None = None):
        self.given_describer = describer
        self.given_embedder = embedder
        self._loaded: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def describer(self, choice: ModelChoice, lazy: bool = False) -> Describer:
        """The describer or captioner chosen. `lazy`: it loads on first use (its spec is checked
        now); else it loads now, so a model that is not here fails now, in one line."""
        if self.given_describer is not None:
            return self.given_describer
        from lucida.models.registry import LazyDescriber

        return self._get(("d", choice), lambda: LazyDescriber(choice.spec, choice.prompt, choice.api_base), lazy)

    def embedder(self, choice: ModelChoice, lazy: bool = False) -> Embedder:
        if self.given_embedder is not None:
            return self.given_embedder
        from lucida.models.registry import LazyEmbedder

        return self._get(("e", choice), lambda: LazyEmbedder(choice.spec, choice.api_base), lazy)

    def _get(self, key: tuple, make, lazy: bool):
        with self._lock:
            model = self._loaded.get(key)
            if model is None:
                model = self._loaded[key] = make()
        if not lazy:
            load_now(model)
        return model


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    # A query's answers: the photos that pass the filters at or above the relevance cutoff (a
    # RAW+JPEG pair counted once); without a query, every photo that passes; by photo, all ranked.
    total: int
    query: str | None = None  # for a search by photo: the description searched for
    weaker: int = 0  # photos ranked below the cutoff: what `weak=True` ("--all") adds after the answers
    # The named people the results must show: those the query mentioned and those asked for.
    people: tuple[str, ...] = ()
    # The query in the English words it was searched by, when typed in another language.
    searched: str | None = None


@dataclass(frozen=True)
class PhotoDetails:
    record: ImageRecord
    caption: str | None  # the preferred description's display caption: what every front end shows
    score: float | None = None  # with a query: the score a search gives this photo
    classes: list[dict] = field(default_factory=list)  # the classifier's likeliest classes


@dataclass(frozen=True)
class LibraryStatus:
    catalog: str
    catalog_bytes: int
    indexed: int  # files
    images: int
    pending: int
    unembedded: int
    skipped: list[SkippedFile]
    caption_failures: list[CaptionFailure]
    models: dict[str, str | None]  # the describer and embedder the catalog's photos were indexed with
    descriptions_by_describer: dict[str, int]
    vectors_by_embedder: dict[str, int]
    roots: list[str]
    faces: FaceCounts
    face_failures: list[tuple[str, str]]  # (a path, why) of photos the face finder could not read


class Library:
    """A catalog with its models and the user's config; see the module's docstring."""

    def __init__(
        self,
        catalog: CatalogStore,
        config: Config | None = None,
        models: ModelSet | None = None,
        exports: str | None = None,
        serving: bool = False,
    ):
        """`exports` names exported JPEGs ("{stem}_DxO") so they join their RAW's photo in search
        results (lucida.pairs). `serving`: this process answers many searches (`lucida serve`),
        so its searchers read the nearest-neighbour index into memory rather than map it
        (lucida.ann_index.AnnIndex.open)."""
        self.catalog = catalog
        self.config = config if config is not None else Config.load()
        self.models = models or ModelSet()
        self.exports = exports
        self.serving = serving
        self._searchers: dict[tuple, Searcher] = {}

    @classmethod
    def open(
        cls,
        location: str | Path,
        create: bool = False,
        config: Config | None = None,
        models: ModelSet | None = None,
        exports: str | None = None,
        serving: bool = False,
    ) -> Library:
        config = config if config is not None else Config.load()  # a bad config file fails first
        return cls(open_catalog(location, create=create, roots=config.named_roots()), config, models, exports, serving)

    @property
    def path(self) -> Path:
        return self.catalog.path

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- models ----------------------------------------------------------------------------

    def choose(self, role: str, command: str, **given: str | None) -> ModelChoice | None:
        """The model for a role in a command (see choose_model), by this catalog and config."""
        return choose_model(role, command, self.config, self.catalog.settings(), **given)

    def index_models(
        self,
        describer: str | None = None,
        prompt: str | None = None,
        embedder: str | None = None,
        api_base: str | None = None,
    ) -> tuple[Describer, Embedder]:
        """The describer and embedder an index run uses. They load only when there is work for
        them (a rerun over an unchanged library loads none), except that a model the catalog
        does not record yet loads now: one that is not here fails before the catalog records it."""
        settings = self.catalog.settings()
        describer_choice, embedder_choice = self._index_choices(describer, prompt, embedder, api_base)
        describer_model = self.models.describer(describer_choice, lazy=True)
        embedder_model = self.models.embedder(embedder_choice, lazy=True)
        if describer_model.name != settings.get(ACTIVE_DESCRIBER) or describer_choice.prompt:
            load_now(describer_model)
        if embedder_model.name != settings.get(ACTIVE_EMBEDDER):
            load_now(embedder_model)
        if embedder_choice.api_base and embedder_choice.api_base != settings.get(ACTIVE_API_BASE):
            with self.catalog.transaction():
                self.catalog.set_setting(ACTIVE_API_BASE, embedder_choice.api_base)
        return describer_model, embedder_model

    def _index_choices(
        self, describer: str | None, prompt: str | None, embedder: str | None, api_base: str | None
    ) -> tuple[ModelChoice, ModelChoice]:
        settings = self.catalog.settings()
        describer_choice = choose_model(DESCRIBER, INDEX, self.config, settings, describer, prompt, api_base)
        embedder_choice = choose_model(EMBEDDER, INDEX, self.config, settings, embedder, api_base=api_base)
        assert describer_choice is not None and embedder_choice is not None  # indexing has defaults
        return describer_choice, embedder_choice

    def search_embedder(self, spec: str | None = None, api_base: str | None = None) -> Embedder | None:
        """The embedder searches use: the one the catalog was indexed with, or one asked for
        whose vectors the catalog holds. None for a catalog with nothing indexed yet."""
        if self.models.given_embedder is not None:
            return self.models.given_embedder
        choice = self.choose(EMBEDDER, SEARCH, spec=spec, api_base=api_base)
        if choice is None:
            return None
        if choice.spec != self.catalog.get_setting(ACTIVE_EMBEDDER):
            spaces = self.catalog.status().embedders
            if choice.spec not in spaces:
                raise LucidaError(
                    f"the catalog has no vectors from {choice.spec} (it has: {', '.join(spaces) or 'none'}); "
                    f"run `lucida index PATH --embedder {choice.spec}` first"
                )
        return self.models.embedder(choice)

    def serve_models(self) -> tuple[Describer, Embedder]:
        """The models `lucida serve` loads once for every request and every index run it starts:
        the describer an index run would use, and the embedder searches use (an empty catalog's:
        the one an index run would use)."""
        describer = self.models.describer(self.choose(DESCRIBER, INDEX))  # type: ignore[arg-type]
        embedder = self.search_embedder() or self.models.embedder(self.choose(EMBEDDER, INDEX))  # type: ignore[arg-type]
        return describer, embedder

    def _nothing_indexed(self) -> LucidaError:
        return LucidaError(f"catalog {self.path} has no photos yet; run `lucida index PATH` first")

    # -- indexing ------------------------------------------------------------------------------

    def index(
        self,
        paths: Iterable[str],
        progress: Progress | None = None,
        batch_size: int = 32,
        describer: str | None = None,
        prompt: str | None = None,
        embedder: str | None = None,
        api_base: str | None = None,
        ray_address: str | None = None,
        actors: int | None = None,
    ) -> IndexSummary:
        """Bring the catalog up to date with the photos under `paths` (see lucida.indexer). With
        `ray_address`, the photos are read, described and embedded on that Ray cluster
        (lucida.index_ray, "local": one on this machine) by `actors` actors (None: one per GPU,
        else one per two CPUs), with the models chosen here by the same rule."""
        from lucida.indexer import existing_roots, index_paths

        roots = existing_roots(paths)  # a mistyped path fails before a model loads
        describer_model, embedder_model = self.index_models(describer, prompt, embedder, api_base)
        ray = None
        if ray_address is not None:
            from lucida.ray_runs import RayRun

            chosen, embedder_choice = self._index_choices(describer, prompt, embedder, api_base)
            ray = RayRun(
                ray_address, chosen.spec, chosen.prompt, chosen.api_base, embedder_choice.spec, embedder_choice.api_base,
                actors=actors, batch_size=batch_size,
            )  # fmt: skip
        summary = index_paths(self.catalog, roots, describer_model, embedder_model, progress, batch_size=batch_size, ray=ray)
        if summary.described or summary.reused or summary.removed or summary.embedded:
            self.prepare_search(progress)
        if self.faces_on_index:
            summary.faces = self.find_faces(progress)
        return summary

    def prepare_search(self, progress: Progress | None = None) -> None:
        """Bring the search index's copy beside the catalog up to date (lucida.search_index), and
        the nearest-neighbour index where the catalog is searched through one (lucida.ann_index),
        so that the next search, usually a new process, finds them ready: building them takes
        seconds from 10,000 photos on (15 s at 100,000), better paid at the end of an index run
        than by the first search after it."""
        try:
            searcher = self.searcher()
        except LucidaError:  # nothing searchable yet
            return
        if progress is not None:
            progress.start("preparing search", 1)
        try:
            searcher.size  # noqa: B018 - loads, or builds and writes, the index
            searcher.update_nearest_index()
        finally:
            if progress is not None:
                progress.advance(1)
                progress.finish()

    def watch(self, folders: list[str], progress: Progress | None = None, **options: Any) -> None:
        """Index `folders`, then keep the catalog current with them (see lucida.watch), with the
        models `lucida index` would use, their API base included."""
        from lucida.watch import WatchPass, watch_folders, watch_roots

        watch_roots(folders)  # a mistyped path fails before a model loads
        describer_model, embedder_model = self.index_models()
        on_pass = options.pop("on_pass", None)
        # What the passes import, imported before they run. CPython remembers a Ctrl-C that lands
        # while an import builds a dataclass (its exec of generated code) as "unhandled" even
        # when `lucida watch` handles it, and then ends by SIGINT instead of exiting 130.
        import lucida.search  # noqa: F401

        if self.faces_on_index:
            import lucida.faces  # noqa: F401

        def after_pass(done: WatchPass) -> None:
            # As after `lucida index`: the search index's copy and the nearest-neighbour index
            # catch up with what the pass changed, so the next search need not.
            s = done.summary
            if s.described or s.reused or s.removed or s.embedded:
                self.prepare_search()
            if self.faces_on_index and s.described:
                s.faces = self.find_faces()
            if on_pass is not None:
                on_pass(done)

        watch_folders(self.catalog, folders, describer_model, embedder_model, progress, on_pass=after_pass, **options)

    def _caption_models(self, captioner: str | None, prompt: str | None, api_base: str | None) -> tuple[ModelChoice, ModelChoice, Describer]:
        """The captioner (its spec checked, not loaded) and the embedder a caption run uses."""
        from lucida.config import config_path
        from lucida.models.registry import CAPTIONER as CAPTIONER_KIND

        choice = self.choose(CAPTIONER, CAPTION, spec=captioner, prompt=prompt, api_base=api_base)
        if choice is None:
            raise LucidaError(f"give --captioner NAME (see `lucida models list`), or set [caption] captioner in {config_path()}")
        embedder_choice = self.choose(EMBEDDER, CAPTION)
        if embedder_choice is None:
            raise self._nothing_indexed()
        model = self.models.describer(choice, lazy=True)
        if model.entry.kind != CAPTIONER_KIND:  # type: ignore[attr-defined]
            raise LucidaError(f"{choice.spec} is a {model.entry.kind}, not a captioner; see `lucida models list`")  # type: ignore[attr-defined]
        return choice, embedder_choice, model

    def caption(
        self,
        captioner: str | None = None,
        prompt: str | None = None,
        api_base: str | None = None,
        progress: Progress | None = None,
        batch_size: int | None = None,
        limit: int | None = None,
    ) -> tuple[Describer, CaptionSummary]:
        """Fill in detailed captions with a captioner (lucida.caption); returns the captioner
        used and what it did."""
        from lucida.caption import caption_photos
        from lucida.models.registry import API, FAMILIES

        choice, embedder_choice, model = self._caption_models(captioner, prompt, api_base)
        model.model()  # type: ignore[attr-defined] # a missing model or a bad prompt fails before any work
        if batch_size is None:
            batch_size = 16 if FAMILIES[model.entry.family].weights == API else 4  # type: ignore[attr-defined]
        embedder = self.models.embedder(embedder_choice)
        summary = caption_photos(self.catalog, model, embedder, progress, batch_size=batch_size, limit=limit)
        if summary.captioned:
            self.prepare_search(progress)
        return model, summary

    def caption_on_ray(
        self,
        address: str,
        captioner: str | None = None,
        prompt: str | None = None,
        api_base: str | None = None,
        progress: Progress | None = None,
        batch_size: int | None = None,
        limit: int | None = None,
        actors: int | None = None,
    ) -> tuple[str, str, CaptionSummary]:
        """`caption`, spread over a Ray cluster (lucida.caption_ray): the models are chosen by the
        same rule and load on the cluster's workers, not here. (captioner name, prompt, summary)."""
        from lucida.caption_ray import RayRun, caption_on_ray
        from lucida.indexer import embed_missing
        from lucida.progress import SilentProgress

        choice, embedder_choice, _ = self._caption_models(captioner, prompt, api_base)  # nothing loads here
        run = RayRun(
            address, choice.spec, choice.prompt, choice.api_base, embedder_choice.spec, embedder_choice.api_base,
            actors=actors, batch_size=batch_size or 4,
        )  # fmt: skip
        name, used_prompt, summary = caption_on_ray(self.catalog, run, progress, limit)
        # Vectors a worker's embedder failed to make, here (as `lucida caption` does).
        embed_missing(self.catalog, self.models.embedder(embedder_choice, lazy=True), progress or SilentProgress())
        if summary.captioned:
            self.prepare_search(progress)
        return name, used_prompt, summary

    # -- search --------------------------------------------------------------------------------

    def searcher(
        self,
        embedder: str | None = None,
        api_base: str | None = None,
        ranking: str = "hybrid",
        conse: float | None = None,
        exact: bool | None = None,
    ) -> Searcher:
        """The search engine over this catalog with the chosen embedder, kept between searches
        (it holds the vectors in memory). `exact`: see Searcher. A LucidaError when nothing was
        ever indexed."""
        from lucida.search import CONSE_WEIGHT, Searcher

        key = (embedder, api_base, ranking, conse, exact)
        if key not in self._searchers:
            model = self.search_embedder(embedder, api_base)
            if model is None:
                raise self._nothing_indexed()
            self._searchers[key] = Searcher(
                self.catalog, model, self.exports, ranking=ranking, conse=CONSE_WEIGHT if conse is None else conse,
                exact=exact, resident_index=self.serving,
            )  # fmt: skip
        return self._searchers[key]

    def search(
        self,
        query: str | None,
        photo_filter: PhotoFilter | None = None,
        k: int = 20,
        offset: int = 0,
        sort: Sort = "relevance",
        vector: np.ndarray | None = None,
        searcher: Searcher | None = None,
        weak: bool = False,
        explain: bool = True,
    ) -> SearchPage:
        """The k best answers to `query` that pass the filter, after skipping `offset`, in order
        of relevance or of capture time; without a query, the photos that pass, oldest first.
        An answer is a photo at or above the calibrated relevance cutoff (lucida.relevance);
        `weak=True` lists the photos below it after the answers. `vector`: the query's embedding
        when it was made elsewhere (the web app batches them). `explain=False`: without `why`."""
        from lucida.filters import passing_ids, rank_page

        searcher = searcher or self.searcher()
        photo_filter, query, vector = self._with_people(photo_filter or PhotoFilter(), query, vector)
        only = passing_ids(self.catalog, photo_filter)
        page = rank_page(searcher, query, only, k, offset, sort, vector, weak, explain)
        return SearchPage(
            page.results,
            page.answers,
            weaker=page.ranked - page.answers,
            people=photo_filter.people,
            searched=page.searched,
        )

    def _with_people(
        self, photo_filter: PhotoFilter, query: str | None, vector: np.ndarray | None
    ) -> tuple[PhotoFilter, str | None, np.ndarray | None]:
        """The filter with the named people the query mentions added (lucida.people), the rest
        of the query to rank them by, and its vector (None once the query changed). Every name
        asked for must be a person's."""
        from dataclasses import replace

        from lucida.people import people_in_query

        for name in photo_filter.people:
            if self.catalog.person_id(name) is None:
                raise LucidaError(f"nobody is named {name!r}; `lucida people` lists the people")
        if not query:
            return photo_filter, query, vector
        names = self.catalog.person_names()
        found, rest = people_in_query(query, names) if names else ((), query)
        if not found:
            return photo_filter, query, vector
        asked = tuple(dict.fromkeys((*photo_filter.people, *found)))
        return replace(photo_filter, people=asked), rest, None

    def similar(self, image_id: int, k: int = 20, offset: int = 0) -> SearchPage | None:
        """"More like this": the photos nearest one photo; None when it is not in the catalog."""
        searcher = self.searcher()
        record = self.catalog.image_record(image_id)
        if record is None:
            return None
        results = searcher.similar(image_id, k, offset)
        if results is None:
            return None
        caption = record.preferred.text if record.preferred else f"photo {image_id}"
        return SearchPage(results, max(searcher.size - 1, 0), caption)

    def upload_models(self) -> tuple[Describer, Embedder]:
        """The models that describe and embed a photo that is not in the catalog (an upload), as
        indexing would, in the space searches use. Run them with describe_upload."""
        describer = self.models.describer(self.choose(DESCRIBER, INDEX))  # type: ignore[arg-type]
        embedder = self.search_embedder()
        if embedder is None:
            raise self._nothing_indexed()
        return describer, embedder

    def search_vector(self, text: str, vector: np.ndarray, k: int = 20, offset: int = 0) -> SearchPage:
        """The photos nearest the vector describe_upload made of a photo's description `text`."""
        searcher = self.searcher()
        return SearchPage(searcher.search_vector(vector, k, offset), searcher.candidates(), text)

    # -- photos ------------------------------------------------------------------------------

    def record(self, image_id: int) -> ImageRecord | None:
        """A photo's files and descriptions; None when no file shows it."""
        return self.catalog.image_record(image_id)

    def roots(self) -> list[str]:
        """The folders indexed so far: the only ones the web app may index again."""
        return self.catalog.roots()

    def photo(
        self, image_id: int, query: str | None = None, query_vector: np.ndarray | None = None
    ) -> PhotoDetails | None:
        """Everything the catalog knows about a photo; with a query, the similarity its search
        weighs for the photo (`query_vector`: the query's embedding as typed, when made
        elsewhere). None when no file shows that photo."""
        record = self.catalog.image_record(image_id)
        if record is None:
            return None
        score = None
        if query is not None:
            score = self.searcher().score_query(query, image_id, query_vector)
        classes = self.catalog.photo_classes([image_id]).get(image_id, [])
        return PhotoDetails(record, record.preferred.display if record.preferred else None, score, classes)

    # -- people --------------------------------------------------------------------------------

    def find_faces(self, progress: Progress | None = None, limit: int | None = None) -> FaceSummary:
        """Find, describe and group the faces of every photo not read for faces yet (lucida.faces)."""
        from lucida.faces import find_faces
        from lucida.models.faces import load_face_model

        if not self.catalog.status().images:
            raise self._nothing_indexed()
        return find_faces(self.catalog, load_face_model(), progress, limit=limit)

    @property
    def faces_on_index(self) -> bool:
        """Whether `lucida index` (and watch) also finds faces: `[index] faces = true` in the config."""
        return self.config.flag("index", "faces")

    def people(self) -> list[PersonGroup]:
        """Named people, then unnamed groups of faces, largest first."""
        return self.catalog.person_groups()

    def group_faces(self, reference: str) -> list[StoredFace]:
        """The faces of a person (by name) or of an unnamed group (by number)."""
        from lucida.people import find_group

        group = find_group(self.catalog, reference)
        return [f for f in (self.catalog.face(i) for i in group.faces(self.catalog)) if f is not None]

    def name_person(self, reference: str, name: str) -> int:
        """Name a group of faces (or rename a person); the number of faces named."""
        from lucida.people import find_group, name_group

        return name_group(self.catalog, find_group(self.catalog, reference), name)

    def merge_people(self, into: str, other: str) -> int:
        from lucida.people import find_group, merge_groups

        first, second = find_group(self.catalog, into), find_group(self.catalog, other)
        if first == second:
            raise LucidaError(f"{into} and {other} are the same group")
        return merge_groups(self.catalog, first, second)

    def split_face(self, face_id: int) -> int:
        """A wrongly grouped face to a group of its own; the new group's number."""
        from lucida.people import split_face

        return split_face(self.catalog, face_id)

    def not_a_person(self, reference: str | None = None, face_id: int | None = None) -> int:
        """Mark a group's faces, or one face, as not a person; the number of faces marked."""
        from lucida.people import find_group, not_a_person

        if face_id is not None:
            if self.catalog.face(face_id) is None:
                raise LucidaError(f"there is no face {face_id}")
            return not_a_person(self.catalog, [face_id])
        if reference is None:
            raise LucidaError("name a group or a person, or give a face's number")
        return not_a_person(self.catalog, find_group(self.catalog, reference).faces(self.catalog))

    def forget_person(self, name: str) -> list[tuple[StoredFace, ImageRecord | None]]:
        """Delete a person's faces and name from the catalog; the faces deleted, each with its
        photo, so that a front end can delete what it made of them (the web's face crops:
        lucida.web.renditions.forget_face_renditions)."""
        from lucida.people import forget_person

        return [(face, self.record(face.image_id)) for face in forget_person(self.catalog, name)]

    def recluster(self) -> int:
        """Group every face again from scratch (names stay); the number of groups."""
        from lucida.people import recluster

        return recluster(self.catalog)

    def faces_in(self, image_id: int) -> list[StoredFace]:
        return self.catalog.faces_in(image_id)

    def face(self, face_id: int) -> StoredFace | None:
        return self.catalog.face(face_id)

    def face_counts(self) -> FaceCounts:
        return self.catalog.face_counts()

    def similar_faces(self, face_id: int, k: int = 20, offset: int = 0) -> SearchPage | None:
        """"More like this face": the photos whose nearest face is nearest this one, best first,
        the photo itself included; None when there is no such face. A result's score is the face
        similarity 1 - distance, where two faces of one person are at 0.5 (lucida.people) or more."""
        from lucida.people import face_neighbours

        face = self.catalog.face(face_id)
        if face is None:
            return None
        ranked = face_neighbours(self.catalog, face_id)
        page = ranked[offset : offset + k]
        results = self.searcher().results_for([i for i, _ in page], [s for _, s in page])
        return SearchPage(results, len(ranked), face.person or f"face {face_id}")

    # -- status and export ----------------------------------------------------------------------

    def copy_to(self, location: str, progress: Progress | None = None) -> dict[str, int]:
        """Copy this SQLite catalog into a new PostgreSQL database, whole: nothing is described or
        embedded again. Rows copied per table."""
        from lucida.catalog.postgres import PostgresCatalog
        from lucida.catalog.store import Catalog
        from lucida.catalog_location import is_database_url

        if not is_database_url(location) or not isinstance(self.catalog, Catalog) or isinstance(self.catalog, PostgresCatalog):
            raise LucidaError("copy-catalog copies a SQLite catalog into a new PostgreSQL database (a postgresql:// URL)")
        with PostgresCatalog.open(location, roots=self.config.named_roots()) as copy:
            return copy.copy_from(self.catalog, progress)

    def status(self) -> LibraryStatus:
        st = self.catalog.status()
        return LibraryStatus(
            catalog=self.catalog.location,
            catalog_bytes=self.catalog.file_size_bytes(),
            indexed=st.files,
            images=st.images,
            pending=st.pending,
            unembedded=st.unembedded,
            skipped=st.skipped,
            caption_failures=self.catalog.caption_failures(),
            models={"describer": st.settings.get(ACTIVE_DESCRIBER), "embedder": st.settings.get(ACTIVE_EMBEDDER)},
            descriptions_by_describer=st.describers,
            vectors_by_embedder=st.embedders,
            roots=self.catalog.roots(),
            faces=self.catalog.face_counts(),
            face_failures=self.catalog.face_scan_failures(),
        )

    def export_xmp(self, roots: list[str] | None, options: ExportOptions) -> list[Change]:
        """Write each photo's caption, keywords and named faces into XMP (lucida.xmp_export)."""
        from lucida.xmp_export import export_xmp

        return export_xmp(self.catalog, roots, options)

    def undo_xmp(self, roots: list[str] | None, dry_run: bool = False) -> list[Change]:
        from lucida.xmp_export import undo_xmp

        return undo_xmp(self.catalog, roots, dry_run)


class UnreadableUpload(LucidaError):
    """An uploaded file that is not a photo lucida can read."""


def describe_upload(data: bytes, extension: str, describer: Describer, embedder: Embedder) -> tuple[str, np.ndarray]:
    """A photo's bytes described and embedded as indexing would (Library.upload_models gives the
    models): the description's text and its vector. Nothing is stored; no catalog is touched, so
    it may run on any thread."""
    from lucida.describe import Unreadable, decode_photo, describe_each

    photo = decode_photo(data, extension, describer.input_side)
    if isinstance(photo, Unreadable):
        raise UnreadableUpload(f"not a photo lucida can read: {photo}")
    [description], errors = describe_each([photo.image], describer)
    if description is None:
        raise LucidaError(f"{describer.name} could not describe the photo: {errors[0]}")
    from lucida.concepts import embedded_text

    return description.text, embedder.embed_documents([embedded_text(description.text, description.details)])[0]


__all__ = [
    "Library", "LibraryStatus", "ModelChoice", "ModelSet", "PhotoDetails", "SearchPage", "UnreadableUpload",
    "choose_model", "describe_upload",
]  # fmt: skip
