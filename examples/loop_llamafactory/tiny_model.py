"""A tiny random LLaVA-1.5-architecture model, built from a config with no download, for
running the loop's train hook on a CPU: LLaMA-Factory's real data pipeline, `llava`
template, trainer and LoRA merge on visinstruct's export, a few steps, in about a minute.

Run it with the Python that has LLaMA-Factory (transformers, tokenizers, torch):

    python tiny_model.py OUT_DIR --text FILE [FILE ...]

Why LLaVA and not Qwen2-VL: a Qwen2-VL processor cannot be made without torchvision's
compiled operators (its video processor), and PyPI's torchvision wheels are linked against
CUDA torch, so they do not load beside the CPU torch. LLaVA's processor (a CLIP image
processor, PIL backend, and the tokenizer) needs none of it; LLaMA-Factory reads the same
ShareGPT file and `dataset_info.json` for both, only the template differs.

The tokenizer is a byte-level BPE trained here on the given text files (every byte is in
its alphabet, so any text encodes), with `<image>` and the chat markers as special tokens.
The image processor is CLIP's at 28×28 pixels: two 14-pixel patches a side, four image
tokens per image. The model: a two-layer CLIP vision tower of width 32, a projector, a
two-layer Llama of width 64, random weights. The folder holds what `from_pretrained` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

IMAGE_TOKEN = "<image>"
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN]
SIDE, PATCH = 28, 14


def build_tokenizer(texts: list[Path], vocab: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([str(t) for t in texts], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
        model_max_length=4096,
    )


def build(out: Path, texts: list[Path], vocab: int = 2000, seed: int = 0) -> None:
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.llava.processing_llava import LlavaProcessor

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(texts, vocab)
    images = CLIPImageProcessorPil(size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",  # the CLS token is dropped: (28/14)² = 4 tokens
        num_additional_image_tokens=1,
        image_token=IMAGE_TOKEN,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=SIDE,
            patch_size=PATCH,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    model = LlavaForConditionalGeneration(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument(
        "--text", type=Path, nargs="+", required=True, help="text files to train the tokenizer on"
    )
    ap.add_argument("--vocab", type=int, default=2000)
    args = ap.parse_args()
    build(args.out, args.text, args.vocab)
    print(f"tiny LLaVA written to {args.out}")


if __name__ == "__main__":
    main()
