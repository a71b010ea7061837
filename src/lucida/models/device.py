"""Where models run: the best accelerator torch can see, else the CPU."""


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str):
    """The float type captioners run in on `device`: bf16 on GPUs that have it, else fp16; on a
    CPU bf16 where it computes bf16 natively (AVX512-BF16 or AMX: Florence-2-base captions 2.5x
    faster than in fp32, docs/benchmarks.md), else fp32, since emulated bf16 is slower."""
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return torch.bfloat16 if native_bf16 else torch.float32
