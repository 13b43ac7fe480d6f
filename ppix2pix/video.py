"""Translate a video frame by frame with a :class:`~ppix2pix.translator.Translator`, streaming through OpenCV.

Frames are read, translated in batches and written as they come: memory holds one batch, however long the clip. The
output keeps the input's frame rate and frame size (the translator pads or resizes each frame to the generator's
multiple and back, as it does images); with ``side_by_side`` each output frame is input | output, twice as wide.

In paper test mode (dropout on) each frame goes through the generator on its own, and the translator's runner resets
the dropout seed before every call: a frame's output depends on that frame alone, so static content gives identical
outputs instead of flickering with a new dropout mask (and, in a batch, its neighbours' BatchNorm statistics) each
frame. Eval mode is deterministic per frame and batches freely.
"""
import itertools
import os

import cv2
import numpy as np

from .choices import VIDEO_CODECS, VIDEO_EXTENSIONS
from .data.image_io import is_image_file, to_channels, to_uint8
from .errors import VideoError
from .translator import group_by_size


def is_video_file(path):
    """True when ``path`` has a video extension ppix2pix reads."""
    return path.lower().endswith(VIDEO_EXTENSIONS)


class VideoReader:
    """A video file open for reading: ``fps``, ``width``, ``height``, ``frame_count`` and :meth:`frames`."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise VideoError(f"video {path} does not exist")
        self.path, self.capture = path, cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise VideoError(f"video {path} is corrupt or not a format OpenCV can decode")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if self.frame_count <= 0:  # some containers do not say: count once, without keeping the frames
            self.frame_count = _count_frames(path)
        if self.frame_count == 0 or self.width <= 0 or self.height <= 0:
            self.close()
            raise VideoError(f"video {path} has no frames (or none OpenCV can decode)")
        if not self.fps > 0:
            self.close()
            raise VideoError(f"video {path} has no frame rate in its header; re-encode it (e.g. ffmpeg -i IN -r 25 "
                             f"OUT.mp4)")

    def frames(self):
        """The frames, one at a time, as H x W x 3 uint8 RGB arrays (OpenCV decodes to BGR)."""
        while True:
            ok, frame = self.capture.read()
            if not ok:
                return
            yield np.ascontiguousarray(frame[:, :, ::-1])

    def close(self):
        self.capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _count_frames(path):
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def check_output_path(input_path, output_path):
    """Refuse an output a video cannot be written to (a folder, an image name, an unknown extension, the input)."""
    if os.path.isdir(output_path) or output_path.endswith(("/", os.sep)):
        stem = os.path.splitext(os.path.basename(input_path))[0]
        raise VideoError(f"--output {output_path} is a folder; a video input writes one video file, e.g. --output "
                         f"{os.path.join(output_path, stem + '_translated.mp4')}")
    extension = os.path.splitext(output_path)[1].lower()
    if is_image_file(output_path):
        raise VideoError(f"--output {output_path} is an image file name ({extension}); a video input writes a video: "
                         f"give one of {', '.join(VIDEO_CODECS)}")
    if extension not in VIDEO_CODECS:
        raise VideoError(f"cannot write video {output_path}: unknown extension {extension or '(none)'}; give one of "
                         f"{', '.join(VIDEO_CODECS)}")
    if os.path.exists(output_path) and os.path.samefile(input_path, output_path):
        raise VideoError(f"--output {output_path} is the input video; choose another file name")


def open_writer(path, fps, width, height):
    """A ``cv2.VideoWriter`` for ``path`` with the codec of its extension (:data:`ppix2pix.choices.VIDEO_CODECS`)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    codec = VIDEO_CODECS[os.path.splitext(path)[1].lower()]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"cannot write video {path}: OpenCV's writer did not open (codec {codec}; is {folder} "
                         f"writable, and does this OpenCV build encode {codec}?)")
    return writer


def frames_per_call(translator, batch_size):
    """How many frames go through the generator at once: ``batch_size``, or 1 in paper mode (see the module doc).

    Paper mode needs a seeded runner: an exported model draws new dropout masks every frame, and the video would
    flicker.
    """
    if translator.test_mode != "paper":
        return batch_size
    if getattr(translator.run_batch, "seed", None) is None:
        raise VideoError("paper mode without a dropout seed (an exported model) draws a new dropout mask every frame "
                         "and the video would flicker: translate with the checkpoint, or use --test-mode eval "
                         "(re-export with tools/export.py --test-mode eval)")
    return 1


def translate_frames(translator, frames, side_by_side=False):
    """A batch of same-size H x W x 3 uint8 RGB frames -> uint8 BGR frames to write (input | output side by side)."""
    written = []
    for frame, output in zip(frames, translator.translate(frames)):
        output = to_channels(to_uint8(output), 3)
        if side_by_side:
            output = np.concatenate([frame, output], axis=1)
        written.append(np.ascontiguousarray(output[:, :, ::-1]))
    return written


def translate_video(translator, reader, output_path, batch_size=1, side_by_side=False, on_frames=None):
    """Stream ``reader``'s frames through ``translator`` into the video ``output_path`` (same fps and frame size, or
    twice as wide side by side); ``on_frames(n)`` after each batch. Returns the number of frames written."""
    per_call = frames_per_call(translator, batch_size)
    frames = reader.frames()
    first = next(frames, None)
    if first is None:
        raise VideoError(f"video {reader.path} has no frames OpenCV can decode")
    height, width = first.shape[:2]
    writer = open_writer(output_path, reader.fps, width * (2 if side_by_side else 1), height)
    written = 0
    try:
        for batch in group_by_size(itertools.chain([first], frames), per_call, lambda frame: frame.shape):
            for frame in translate_frames(translator, batch, side_by_side):
                writer.write(frame)
            written += len(batch)
            if on_frames is not None:
                on_frames(len(batch))
    finally:
        writer.release()
    return written

