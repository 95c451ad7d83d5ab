"""A size cap for every image the planner takes in (camera and goal topics, goal files), checked on the
declared size before anything is allocated.

An Image message's header decides how much memory its conversion needs (step * height), not the bytes
it carries: 3 bytes may declare 4 GiB. A PNG of 168 kB may decode to 430 MB. So the declared size is
checked against the largest camera the configuration allows, and a refusal says "too large".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vjepa_ac.ros.image_conversion import ImageConversionError

__all__ = ["ImageLimits", "ImageTooLargeError", "check_image_msg", "image_file_size", "check_image_file",
           "transport_loss_reason"]

MAX_BYTES_PER_PIXEL = 4  # rgba8 / bgra8, the widest encoding accepted


class ImageTooLargeError(ImageConversionError):
    """The image declares more pixels or bytes than the configured cap."""


@dataclass(frozen=True)
class ImageLimits:
    max_width: int
    max_height: int

    @property
    def max_bytes(self) -> int:
        """Bytes of the largest allowed camera in the widest accepted encoding."""
        return self.max_width * self.max_height * MAX_BYTES_PER_PIXEL

    def size_problem(self, width: int, height: int) -> str | None:
        if width > self.max_width or height > self.max_height:
            return (f"image {width}x{height} is too large: the largest allowed is "
                    f"{self.max_width}x{self.max_height} (max_image_width, max_image_height)")
        return None


def check_image_msg(msg, limits: ImageLimits) -> None:
    """Raise ImageTooLargeError when a sensor_msgs/Image declares more than `limits` allow."""
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    problem = limits.size_problem(width, height)
    if problem:
        raise ImageTooLargeError(problem)
    if step * height > limits.max_bytes:
        raise ImageTooLargeError(f"image is too large: step*height = {step}*{height} = {step * height} bytes, "
                                 f"more than the {limits.max_bytes} bytes of a "
                                 f"{limits.max_width}x{limits.max_height} rgba8 image")
    if len(msg.data) > limits.max_bytes:
        raise ImageTooLargeError(f"image is too large: {len(msg.data)} bytes of data, cap {limits.max_bytes}")


def image_file_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from an image file's header, without decoding its pixels."""
    import warnings

    from PIL import Image as PILImage

    with warnings.catch_warnings():  # PIL's decompression-bomb warning: the caller checks the size itself
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        with PILImage.open(Path(path).expanduser()) as image:  # PIL reads only the header here
            return image.size


def check_image_file(path: str | Path, limits: ImageLimits) -> None:
    """Raise ValueError naming the file when its header declares an image larger than `limits`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"goal image file not found: {path}")
    try:
        width, height = image_file_size(path)
    except Exception as exc:  # PIL raises many types for corrupt headers
        if type(exc).__name__ == "DecompressionBombError":  # PIL's own cap, above 178 Mpx
            raise ValueError(f"goal image {path} is too large: {exc}") from exc
        raise ValueError(f"cannot read image {path}: {exc}") from exc
    problem = limits.size_problem(width, height)
    if problem:
        raise ValueError(f"goal image {path}: {problem}")


def transport_loss_reason(what: str, lost: int, limits: ImageLimits) -> str:
    """The diagnostic for images that DDS dropped before they reached us (best effort loses every fragment
    of a frame of tens of MB): most likely too large, which the planner never gets to see."""
    return (f"{lost} {what} message(s) lost in transport: most likely too large to deliver (this node accepts "
            f"up to {limits.max_width}x{limits.max_height}) or a saturated link")
