"""Where models run: the best accelerator torch can see, else the CPU."""


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str):
    """The float type models run in on `device`: half precision on accelerators (bf16 where the
    GPU has it), full precision on CPUs, where half-precision kernels are often slower."""
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32
