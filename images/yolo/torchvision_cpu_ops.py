"""Define ``torchvision::nms`` in pure torch when torchvision's compiled ops cannot load (docs/yolo.md#image).

PyPI's torchvision wheels for x86_64 link against the CUDA build of torch; beside the CPU build of torch their
``_C`` extension does not load and ``import torchvision`` fails with "operator torchvision::nms does not exist".
Ultralytics needs torchvision for its imports and ``torchvision.ops.nms`` during validation. This module,
loaded from a ``.pth`` file at interpreter start (it imports torch and torchvision then), defines the operator
(CPU kernel, greedy NMS as torchvision's) only when torchvision's own library is absent, so an image built on
the CUDA torch is left untouched.
"""

from __future__ import annotations


def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:  # noqa: F821
    import torch

    order = scores.argsort(descending=True)
    x0, y0, x1, y1 = dets.unbind(1)
    areas = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    keep: list[int] = []
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(x1[i], x1) - torch.maximum(x0[i], x0)).clamp(min=0)
        h = (torch.minimum(y1[i], y1) - torch.maximum(y0[i], y0)).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def install() -> None:
    """Register the operator if torchvision's compiled library did not (idempotent; never raises)."""
    try:
        import torch

        try:
            torch.ops.torchvision.nms  # noqa: B018 - raises AttributeError when the operator is undefined
            return
        except (AttributeError, RuntimeError):
            pass
        import importlib.util

        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            return
        # torchvision registers its ops from _C on import; it has not been imported yet, so try the real one first
        try:
            torch.ops.load_library(str(__import__("pathlib").Path(spec.origin).parent / "_C.so"))  # type: ignore[arg-type]
            return
        except (OSError, RuntimeError):
            pass
        # torchvision registers fake (meta) kernels for these two without checking that its ops loaded;
        # qnms (quantized inputs) is only defined so that the import succeeds, it has no kernel here.
        torch.library.define("torchvision::nms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        torch.library.impl("torchvision::nms", "CPU")(_nms)
        torch.library.define("torchvision::qnms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        # torchvision.ops.nms asks extension._has_ops() first; answer yes only after torchvision's import has
        # skipped the meta kernels of the ops that stay undefined (roi_align, deform_conv2d, ...)
        import torchvision.extension

        torchvision.extension._has_ops = lambda: True
    except Exception:
        return


install()
