"""A tiny randomly initialised CLIP, written to a folder the way `save_pretrained` writes a real
checkpoint (config, safetensors weights, tokenizer, image processor), so tests load it through
the same function as a named model, with no download.

The tokenizer is CLIP's byte-level BPE with no merges (every byte is a token); the image side
takes 32 px inputs in 8 px patches. Weights come from `torch.manual_seed(seed)` and the model's
own initialisation, then, with `conditioned`, three changes that make an untrained image tower
well-conditioned: every patch filter has zero mean over its pixels (a flat patch, such as a plain
background, maps to zero, so the embedding reflects what is drawn rather than the shared light
background), and the class and position embeddings are zero (the class token is then a plain
attention-weighted pool of the patches). Without them every image of a synthetic scene embeds
within 0.002 cosine of every other (measured: near-copies 0.999-1.0, unrelated scenes 0.998),
so near-copies cannot be told from unrelated images; with them unrelated scenes average about
0.2. Nothing about any test image is used.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def make_tiny_clip(
    folder: Path, seed: int = 0, image_size: int = 32, dim: int = 64, patch: int = 8, conditioned: bool = True
) -> Path:
    """Write a tiny CLIPModel and its processor to `folder`; returns the folder."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = _byte_tokenizer()
    vocab = tokenizer.get_vocab()
    images = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 32,
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": image_size,
        "patch_size": patch,
    }
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=dim))
    if conditioned:
        with torch.no_grad():
            emb = model.vision_model.embeddings
            emb.class_embedding.zero_()
            emb.position_embedding.weight.zero_()
            w = emb.patch_embedding.weight  # [hidden, channels, patch, patch]
            w.sub_(w.mean(dim=(2, 3), keepdim=True))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def make_tiny_siglip(folder: Path, seed: int = 0, image_size: int = 32) -> Path:
    """Write a tiny SiglipModel with SigLIP's image processor (a plain resize to a square) and the
    byte-level tokenizer above (SigLIP's own is a SentencePiece model, which cannot be made small
    here); returns the folder."""
    import torch
    from transformers import CLIPProcessor, SiglipConfig, SiglipModel
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tokenizer = _byte_tokenizer()
    vocab = tokenizer.get_vocab()
    images = SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 16,
        "pad_token_id": vocab["<|endoftext|>"],
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": image_size,
        "patch_size": 8,
    }
    torch.manual_seed(seed)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def _byte_tokenizer():
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


def install_in_hub_cache(folder: Path, hub: Path, name: str, revision: str = "0" * 40) -> Path:
    """Lay `folder`'s files out as the hub cache does (`models--org--name/snapshots/<rev>`,
    files linked to content-named blobs, `refs/main`); returns the snapshot folder."""
    import hashlib

    repo = hub / ("models--" + name.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    for f in sorted(folder.iterdir()):
        blob = repo / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copyfile(f, blob)
        (snapshot / f.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    json.loads((snapshot / "config.json").read_text())  # the links resolve
    return snapshot
