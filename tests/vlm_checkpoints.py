"""Tiny, randomly initialised vision-language models saved like real Hugging Face checkpoints.

No hub is reachable here, so each builder makes a model from the real transformers config,
model, image-processor, processor and tokenizer classes of its family, with small dimensions and
a tokenizer trained here with the `tokenizers` library, and writes it with `save_pretrained`.
The folder then goes through exactly the path a downloaded checkpoint takes.

Each checkpoint's generation config keeps captions between 4 and about 12 tokens
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


def _set_short_captions(model) -> None:
    model.generation_config.min_new_tokens = 4
    model.generation_config.exponential_decay_length_penalty = (6, 1.6)


def _save(folder: Path, model, processor) -> Path:
    _set_short_captions(model)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_florence2(folder: Path) -> Path:
    from transformers import (
        BartConfig,
        BartTokenizer,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )

    vocab, merges = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, extra_special_tokens={"image_token": "<image>"})
    side = 64
    # The vision tower downsamples by 4 then 2; Florence-2 adds one pooled token per image.
    image_tokens = (side // 8) ** 2 + 1
    image_processor = CLIPImageProcessorPil(
        size={"height": side, "width": side},
        crop_size={"height": side, "width": side},
        do_center_crop=False,
        image_seq_length=image_tokens,
    )
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    vision = Florence2VisionConfig(
        depths=[1, 1],
        patch_size=[7, 3],
        patch_stride=[4, 2],
        patch_padding=[3, 1],
        patch_prenorm=[False, True],
        embed_dim=[16, 32],
        num_heads=[2, 4],
        num_groups=[2, 4],
        window_size=4,
        projection_dim=32,
        max_position_embeddings=16,
        drop_path_rate=0.0,
        initializer_range=_INIT_STD,
    )
    text = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        init_std=_INIT_STD,
    )
    config = Florence2Config(vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id)
    torch.manual_seed(_SEED)
    return _save(folder, Florence2ForConditionalGeneration(config), processor)


def build_blip(folder: Path) -> Path:
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    # BLIP's BERT tokenizer, with the [DEC] token its decoder starts from.
    vocab = _word_piece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"])
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    vision = BlipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        initializer_range=_INIT_STD,
    )
    text = BlipTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        encoder_hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.sep_token_id,
        sep_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=_INIT_STD,
    )
    config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    torch.manual_seed(_SEED)
    return _save(folder, BlipForConditionalGeneration(config), processor)


# The chat template of SmolVLM-256M-Instruct, shortened to what a one-image caption needs.
_SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def build_smolvlm(folder: Path) -> Path:
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
    tile, patch, scale = 32, 8, 2
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 2 * tile}, max_image_size={"longest_edge": tile}, do_image_splitting=True
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=(tile // patch) ** 2 // scale**2,
        chat_template=_SMOLVLM_CHAT_TEMPLATE,
    )
    vision = Idefics3VisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=tile,
        patch_size=patch,
        initializer_range=_INIT_STD,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=_INIT_STD,
    )
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        scale_factor=scale,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(_SEED)
    return _save(folder, Idefics3ForConditionalGeneration(config), processor)


# The ChatML template of llava-onevision-qwen2-*-ov-hf, shortened to a one-image caption.
_LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_llava_onevision(folder: Path) -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        Qwen2Config,
        Qwen2Tokenizer,
        SiglipVisionConfig,
    )

    vocab, merges = _byte_level_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"])
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    tile, patch = 32, 8
    pinpoints = [[tile * h, tile * w] for h in (1, 2) for w in (1, 2)]
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
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=tile,
        patch_size=patch,
    )
    text = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=_INIT_STD,
    )
    config = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        initializer_range=_INIT_STD,
    )
    torch.manual_seed(_SEED)
    model = LlavaOnevisionForConditionalGeneration(config)
    _set_short_captions(model)
    model.save_pretrained(folder)
    return folder
