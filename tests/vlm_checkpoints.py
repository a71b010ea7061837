"""Randomly initialised vision-language models saved like real Hugging Face checkpoints.

No hub is reachable here, so each builder makes a model from the real transformers config,
model, image-processor, processor and tokenizer classes of its family, with a tokenizer trained
here with the `tokenizers` library, and writes it with `save_pretrained`. The folder then goes
through exactly the path a downloaded checkpoint takes.

Two sizes: `tiny` (a few thousand parameters, for tests) and the published configuration of a
real checkpoint (`base`, `256m`, ...; values from its config.json on the hub), for
bench/captioner_speed.py: speed does not depend on the weights' values.

A tiny checkpoint's generation config keeps captions between 4 and about 12 tokens
(`min_new_tokens`, and an end-of-sequence bonus growing from the 6th token on): a random model
would otherwise end at once or ramble to the token limit, and tests want short text to compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

# Words the tiny tokenizers learn; captions made of them read like (random) captions.
_CORPUS = [
    "a photo of a dog running on the beach at sunset",
    "two people walking in a green park in the morning",
    "a red car parked on a wet street at night",
    "a cup of coffee on a wooden table next to a book",
    "an astronaut in a white suit standing in front of a flag",
    "a cat sleeping on a blue sofa in a bright room",
    "mountains covered in snow under a clear sky",
    "Describe this photo in detail. What is in the image?",
]
_SEED = 1234
# Far larger than a real model's 0.02, so that a random model's output depends visibly on its input.
_INIT_STD = 0.5


def _byte_level_bpe(specials: list[str], vocab_size: int = 400) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) of a byte-level BPE trained on _CORPUS; `specials` get the first ids."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer)
    merges = [tuple(pair) for pair in json.loads(tokenizer.to_str())["model"]["merges"]]
    return tokenizer.get_vocab(), merges


def _word_piece(specials: list[str], vocab_size: int = 300) -> dict[str, int]:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator([line.lower() for line in _CORPUS] * 4, trainer)
    return tokenizer.get_vocab()


def _init_std(size: str) -> dict:
    return {"initializer_range": _INIT_STD} if size == "tiny" else {}


def _save_model(folder: Path, model, size: str) -> None:
    if size == "tiny":
        model.generation_config.min_new_tokens = 4
        model.generation_config.exponential_decay_length_penalty = (6, 1.6)
    model.save_pretrained(folder)


def _save(folder: Path, model, processor, size: str) -> Path:
    _save_model(folder, model, size)
    processor.save_pretrained(folder)
    return folder


def _random_model(cls, config):
    torch.manual_seed(_SEED)
    return cls(config).eval()


# Published configurations (config.json of florence-community/Florence-2-base and -large).
FLORENCE2_SIZES = {
    "tiny": {
        "side": 64, "depths": [1, 1], "patch_size": [7, 3], "patch_stride": [4, 2], "patch_padding": [3, 1],
        "patch_prenorm": [False, True], "embed_dim": [16, 32], "num_heads": [2, 4], "num_groups": [2, 4], "window_size": 4,
        "projection_dim": 32, "d_model": 32, "layers": 1, "heads": 2, "ffn": 64, "vocab": None,
    },
    "base": {
        "side": 768, "depths": [1, 1, 9, 1], "patch_size": [7, 3, 3, 3], "patch_stride": [4, 2, 2, 2],
        "patch_padding": [3, 1, 1, 1], "patch_prenorm": [False, True, True, True], "embed_dim": [128, 256, 512, 1024],
        "num_heads": [4, 8, 16, 32], "num_groups": [4, 8, 16, 32], "window_size": 12, "projection_dim": 768,
        "d_model": 768, "layers": 6, "heads": 12, "ffn": 3072, "vocab": 51289,
    },
    "large": {
        "side": 768, "depths": [1, 1, 9, 1], "patch_size": [7, 3, 3, 3], "patch_stride": [4, 2, 2, 2],
        "patch_padding": [3, 1, 1, 1], "patch_prenorm": [False, True, True, True], "embed_dim": [256, 512, 1024, 2048],
        "num_heads": [8, 16, 32, 64], "num_groups": [8, 16, 32, 64], "window_size": 12, "projection_dim": 1024,
        "d_model": 1024, "layers": 12, "heads": 16, "ffn": 4096, "vocab": 51289,
    },
}


def build_florence2(folder: Path, size: str = "tiny") -> Path:
    from transformers import (
        BartConfig,
        BartTokenizer,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )

    dims = FLORENCE2_SIZES[size]
    vocab, merges = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, extra_special_tokens={"image_token": "<image>"})
    side = dims["side"]
    # The vision tower downsamples by 4 and then by 2 per further stage; Florence-2 adds one
    # pooled token per image (577 at 768 pixels).
    image_tokens = (side // (4 * 2 ** (len(dims["depths"]) - 1))) ** 2 + 1
    image_processor = CLIPImageProcessorPil(
        size={"height": side, "width": side},
        crop_size={"height": side, "width": side},
        do_center_crop=False,
        image_seq_length=image_tokens,
    )
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    vision = Florence2VisionConfig(
        **{k: dims[k] for k in ("depths", "patch_size", "patch_stride", "patch_padding", "patch_prenorm")},
        **{k: dims[k] for k in ("embed_dim", "num_heads", "num_groups", "window_size", "projection_dim")},
        drop_path_rate=0.0,
        **_init_std(size),
    )
    text = BartConfig(
        vocab_size=dims["vocab"] or len(tokenizer),
        d_model=dims["d_model"],
        encoder_layers=dims["layers"],
        decoder_layers=dims["layers"],
        encoder_attention_heads=dims["heads"],
        decoder_attention_heads=dims["heads"],
        encoder_ffn_dim=dims["ffn"],
        decoder_ffn_dim=dims["ffn"],
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        **({"init_std": _INIT_STD} if size == "tiny" else {}),
    )
    config = Florence2Config(vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id)
    return _save(folder, _random_model(Florence2ForConditionalGeneration, config), processor, size)


# Published configuration of Salesforce/blip-image-captioning-base.
BLIP_SIZES = {
    "tiny": {"side": 32, "patch": 8, "hidden": 32, "ffn": 64, "layers": 1, "heads": 2, "vocab": None},
    "base": {"side": 384, "patch": 16, "hidden": 768, "ffn": 3072, "layers": 12, "heads": 12, "vocab": 30524},
}


def build_blip(folder: Path, size: str = "tiny") -> Path:
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    dims = BLIP_SIZES[size]
    # BLIP's BERT tokenizer, with the [DEC] token its decoder starts from.
    vocab = _word_piece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"])
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    image_processor = BlipImageProcessorPil(size={"height": dims["side"], "width": dims["side"]})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    layers = dict(
        hidden_size=dims["hidden"],
        intermediate_size=dims["ffn"],
        num_hidden_layers=dims["layers"],
        num_attention_heads=dims["heads"],
        **_init_std(size),
    )
    vision = BlipVisionConfig(image_size=dims["side"], patch_size=dims["patch"], **layers)
    text = BlipTextConfig(
        vocab_size=dims["vocab"] or len(tokenizer),
        encoder_hidden_size=dims["hidden"],
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.sep_token_id,
        sep_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **layers,
    )
    config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())
    return _save(folder, _random_model(BlipForConditionalGeneration, config), processor, size)


# The chat template of SmolVLM-256M-Instruct, shortened to what a one-image caption needs.
_SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# Published configuration of HuggingFaceTB/SmolVLM-256M-Instruct (SigLIP-B/16 at 512 pixels,
# SmolLM2-135M-style text model); its processor resizes the long side to 4 x 512 and tiles.
SMOLVLM_SIZES = {
    "tiny": {
        "tile": 32, "patch": 8, "scale": 2, "v_hidden": 32, "v_ffn": 64, "v_layers": 1, "v_heads": 2,
        "hidden": 32, "ffn": 64, "layers": 1, "heads": 2, "kv_heads": 1, "head_dim": None, "vocab": None,
    },
    "256m": {
        "tile": 512, "patch": 16, "scale": 4, "v_hidden": 768, "v_ffn": 3072, "v_layers": 12, "v_heads": 12,
        "hidden": 576, "ffn": 1536, "layers": 30, "heads": 9, "kv_heads": 3, "head_dim": 64, "vocab": 49280,
    },
}


def build_smolvlm(folder: Path, size: str = "tiny") -> Path:
    """A SmolVLM-256M/500M-Instruct-shaped checkpoint: Idefics3 classes, GPT-2 tokenizer."""
    from transformers import (
        GPT2Tokenizer,
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    dims = SMOLVLM_SIZES[size]
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    specials = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                "<global-img>", *grid]
    vocab, merges = _byte_level_bpe(specials, vocab_size=450)
    tokenizer = GPT2Tokenizer(
        vocab=vocab,
        merges=merges,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>"},
    )
    tile, patch, scale = dims["tile"], dims["patch"], dims["scale"]
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 4 * tile if size != "tiny" else 2 * tile},
        max_image_size={"longest_edge": tile},
        do_image_splitting=True,
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=(tile // patch) ** 2 // scale**2,
        chat_template=_SMOLVLM_CHAT_TEMPLATE,
    )
    vision = Idefics3VisionConfig(
        hidden_size=dims["v_hidden"],
        intermediate_size=dims["v_ffn"],
        num_hidden_layers=dims["v_layers"],
        num_attention_heads=dims["v_heads"],
        image_size=tile,
        patch_size=patch,
        **_init_std(size),
    )
    text = LlamaConfig(
        vocab_size=dims["vocab"] or len(tokenizer),
        hidden_size=dims["hidden"],
        intermediate_size=dims["ffn"],
        num_hidden_layers=dims["layers"],
        num_attention_heads=dims["heads"],
        num_key_value_heads=dims["kv_heads"],
        head_dim=dims["head_dim"],
        max_position_embeddings=8192,
        rope_theta=100000.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **_init_std(size),
    )
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        scale_factor=scale,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    return _save(folder, _random_model(Idefics3ForConditionalGeneration, config), processor, size)


# The ChatML template of llava-onevision-qwen2-*-ov-hf, shortened to a one-image caption.
_LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Published configuration of llava-hf/llava-onevision-qwen2-0.5b-ov-hf: SigLIP-so400m at 384
# pixels (26 layers used), Qwen2-0.5B, "anyres" tiles on a 1..6 x 1..6 grid of 384-pixel crops.
LLAVA_ONEVISION_SIZES = {
    "tiny": {
        "tile": 32, "patch": 8, "grid": 2, "v_hidden": 32, "v_ffn": 64, "v_layers": 2, "v_heads": 2,
        "hidden": 32, "ffn": 64, "layers": 1, "heads": 2, "kv_heads": 1, "vocab": None,
    },
    "0.5b": {
        "tile": 384, "patch": 14, "grid": 6, "v_hidden": 1152, "v_ffn": 4304, "v_layers": 26, "v_heads": 16,
        "hidden": 896, "ffn": 4864, "layers": 24, "heads": 14, "kv_heads": 2, "vocab": 152000,
    },
}


def build_llava_onevision(folder: Path, size: str = "tiny") -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        Qwen2Config,
        Qwen2Tokenizer,
        SiglipVisionConfig,
    )

    dims = LLAVA_ONEVISION_SIZES[size]
    vocab, merges = _byte_level_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"])
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    tile, patch = dims["tile"], dims["patch"]
    steps = range(1, dims["grid"] + 1)
    pinpoints = [[tile * h, tile * w] for h in steps for w in steps]
    image_processor = LlavaOnevisionImageProcessorPil(
        size={"height": tile, "width": tile}, image_grid_pinpoints=pinpoints
    )
    # Written file by file as in llava-hf's repositories: transformers cannot build the whole
    # LlavaOnevisionProcessor without torchvision (see lucida.models.llava_onevision).
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    image_processor.save_pretrained(folder)
    processor_config = {
        "processor_class": "LlavaOnevisionProcessor",
        "num_image_tokens": (tile // patch) ** 2,
        "vision_feature_select_strategy": "full",
        "image_token": "<image>",
        "video_token": "<video>",
    }
    (folder / "processor_config.json").write_text(json.dumps(processor_config, indent=2), encoding="utf-8")
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": _LLAVA_CHAT_TEMPLATE}), encoding="utf-8")
    vision = SiglipVisionConfig(
        hidden_size=dims["v_hidden"],
        intermediate_size=dims["v_ffn"],
        num_hidden_layers=dims["v_layers"],
        num_attention_heads=dims["v_heads"],
        image_size=tile,
        patch_size=patch,
    )
    text = Qwen2Config(
        vocab_size=dims["vocab"] or len(tokenizer),
        hidden_size=dims["hidden"],
        intermediate_size=dims["ffn"],
        num_hidden_layers=dims["layers"],
        num_attention_heads=dims["heads"],
        num_key_value_heads=dims["kv_heads"],
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **_init_std(size),
    )
    config = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        vision_aspect_ratio="anyres_max_9",
        tie_word_embeddings=True,
        **_init_std(size),
    )
    _save_model(folder, _random_model(LlavaOnevisionForConditionalGeneration, config), size)
    return folder
