"""tools/infer.py on video files: frames streamed through the generator into a video of the same rate and size."""
import cv2
import numpy as np
import pytest

from ppix2pix.cli.export import main as export_main
from ppix2pix.cli.infer import main as infer_main
from ppix2pix.data.image_io import to_uint8
from ppix2pix.translator import Translator
from ppix2pix.video import VideoReader, translate_frames, translate_video
from test_cli_infer import _checkpoint

FPS, WIDTH, HEIGHT = 24, 64, 48


def _frame(index):
    """A BGR frame of moving shapes: a square crossing the frame, a disc crossing it the other way."""
    frame = np.full((HEIGHT, WIDTH, 3), (90, 60, 30), np.uint8)
    x = 2 + 2 * index % (WIDTH - 16)
    cv2.rectangle(frame, (x, 6), (x + 12, 18), (240, 200, 40), -1)
    cv2.circle(frame, (WIDTH - 1 - x, 32), 7, (30, 80, 220), -1)
    return frame


def _write_video(path, indices, codec="mp4v", fps=FPS):
    """Write the frames ``_frame(i)`` for ``i`` in ``indices`` (repeat an index for identical frames)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for index in indices:
        writer.write(_frame(index))
    writer.release()
    return str(path)


def _read_video(path):
    """(frames as BGR arrays, fps) of a video file."""
    capture = cv2.VideoCapture(str(path))
    fps, frames = capture.get(cv2.CAP_PROP_FPS), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, fps


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny U-Net checkpoint (size multiple 64, one dropout block), paper test mode by default."""
    from conftest import TINY_MODEL
    return _checkpoint(str(tmp_path_factory.mktemp("video_checkpoint")), list(TINY_MODEL))[0]


def test_a_clip_round_trips_with_its_frame_count_rate_and_size(tmp_path, checkpoint, capsys):
    clip = _write_video(tmp_path / "clip.mp4", range(48))  # 2 s at 24 fps, 64x48 (not a multiple of 64)
    out = tmp_path / "results" / "out.mp4"
    assert infer_main(["--checkpoint", checkpoint, "--input", clip, "--output", str(out), "--test-mode", "eval",
                       "--batch-size", "5"]) == 0
    frames, fps = _read_video(out)
    assert len(frames) == 48 and fps == FPS and frames[0].shape == (HEIGHT, WIDTH, 3)
    printed = capsys.readouterr().out
    assert "48 frames, 64x48, 24 fps" in printed and "batch 5" in printed
    assert "48/48 frames" in printed and " fps  elapsed" in printed and "ETA" in printed
    assert f"wrote 48 frames (64x48, 24 fps) to {out}" in printed


def test_side_by_side_frames_are_input_then_output(tmp_path, checkpoint):
    clip = _write_video(tmp_path / "clip.avi", range(6), codec="MJPG")
    out = tmp_path / "out.avi"
    assert infer_main(["--checkpoint", checkpoint, "--input", clip, "--output", str(out), "--side-by-side"]) == 0
    frames, fps = _read_video(out)
    inputs, _ = _read_video(clip)
    assert len(frames) == 6 and fps == FPS and frames[0].shape == (HEIGHT, 2 * WIDTH, 3)
    left, right = frames[3][:, :WIDTH].astype(int), frames[3][:, WIDTH:].astype(int)
    assert np.abs(left - inputs[3]).mean() < 3  # the input, through two JPEG encodings
    assert np.abs(right - inputs[3]).mean() > 20  # the untrained generator's output is nothing like it


def test_paper_mode_gives_identical_frames_identical_outputs(tmp_path, checkpoint, capsys):
    """Dropout stays on in paper mode; the seed is reset before every frame, so a still shot does not flicker (MJPEG
    codes every frame on its own, so equal frames decode and encode equal)."""
    clip = _write_video(tmp_path / "still.avi", [0, 0, 0, 9, 0], codec="MJPG")
    inputs, _ = _read_video(clip)
    assert all(np.array_equal(inputs[0], inputs[index]) for index in (1, 2, 4))
    out = tmp_path / "out.avi"
    assert infer_main(["--checkpoint", checkpoint, "--input", clip, "--output", str(out), "--test-mode", "paper",
                       "--seed", "3", "--batch-size", "4"]) == 0
    assert "seed 3 before every frame" in capsys.readouterr().out
    frames, _ = _read_video(out)
    assert all(np.array_equal(frames[0], frames[index]) for index in (1, 2, 4))
    assert not np.array_equal(frames[0], frames[3])


def test_frames_are_translated_in_rgb_and_written_in_bgr(tmp_path, checkpoint):
    clip = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    writer.write(np.full((HEIGHT, WIDTH, 3), (0, 0, 255), np.uint8))  # BGR red
    writer.release()
    with VideoReader(str(clip)) as reader:
        frame = next(reader.frames())
    assert frame[..., 0].mean() > 240 and frame[..., 2].mean() < 15  # RGB
    translator = Translator.from_checkpoint(checkpoint, test_mode="eval")
    frame = _frame(5)[:, :, ::-1].copy()
    expected = to_uint8(translator.translate([frame])[0])
    assert np.array_equal(translate_frames(translator, [frame])[0], expected[:, :, ::-1])


class _CountingReader:
    """A reader of ``count`` frames that counts how many have been taken from it."""

    def __init__(self, count):
        self.path, self.fps, self.count, self.taken = "counted.avi", FPS, count, 0

    def frames(self):
        for index in range(self.count):
            self.taken += 1
            yield _frame(index)[:, :, ::-1].copy()


def test_frames_stream_through_in_batches(tmp_path, checkpoint):
    """Memory holds one batch: when a batch is written, no frame beyond it has been read."""
    reader, ahead = _CountingReader(11), []
    written = [0]

    def on_frames(count):
        written[0] += count
        ahead.append(reader.taken - written[0])

    translator = Translator.from_checkpoint(checkpoint, test_mode="eval")
    assert translate_video(translator, reader, str(tmp_path / "out.avi"), 4, on_frames=on_frames) == 11
    assert written[0] == 11 and len(ahead) == 3 and max(ahead) == 0


def test_a_colorization_checkpoint_colours_the_frames(tmp_path, tiny_overrides):
    checkpoint, _ = _checkpoint(str(tmp_path), tiny_overrides,
                                ["model.generator.input_nc=1", "model.generator.output_nc=2",
                                 "dataset.train.color_space=lab", "dataset.test.color_space=lab"])
    clip = _write_video(tmp_path / "clip.avi", range(3), codec="MJPG")
    out = tmp_path / "out.avi"
    assert infer_main(["--checkpoint", checkpoint, "--input", clip, "--output", str(out)]) == 0
    frames, _ = _read_video(out)
    assert len(frames) == 3 and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert np.abs(frames[0][..., 0].astype(int) - frames[0][..., 2]).mean() > 1  # not gray


def test_a_truncated_clip_is_translated_as_far_as_it_decodes(tmp_path, checkpoint, capsys):
    full = _write_video(tmp_path / "full.mkv", range(24), codec="MJPG")
    data = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[:len(data) // 2])  # Matroska streams: the first half still decodes
    decodable = len(_read_video(tmp_path / "cut.mkv")[0])
    assert 0 < decodable < 24 and len(_read_video(full)[0]) == 24
    out = tmp_path / "out.mkv"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "cut.mkv"), "--output", str(out)]) == 0
    assert len(_read_video(out)[0]) == decodable
    assert f"announced 24 frames, {decodable} could be decoded" in capsys.readouterr().err


def test_an_exported_paper_mode_model_is_refused_and_an_eval_one_runs(tmp_path, checkpoint, capsys):
    """Paddle Inference cannot be re-seeded: a paper-mode export would draw a new dropout mask every frame."""
    clip = _write_video(tmp_path / "clip.mp4", range(4))
    for mode in ("paper", "eval"):
        exported = str(tmp_path / mode)
        assert export_main(["--checkpoint", checkpoint, "--output", exported, "--test-mode", mode]) == 0
    out = tmp_path / "out.mp4"
    assert infer_main(["--checkpoint", str(tmp_path / "paper"), "--predictor", "--input", clip,
                       "--output", str(out)]) == 2
    assert "flicker" in capsys.readouterr().err and not out.exists()
    assert infer_main(["--checkpoint", str(tmp_path / "eval"), "--predictor", "--input", clip, "--output", str(out),
                       "--batch-size", "2"]) == 0
    assert len(_read_video(out)[0]) == 4


def _zero_frames(tmp_path):
    return _write_video(tmp_path / "empty.avi", [], codec="MJPG")


def _corrupt(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video at all" * 50)
    return str(path)


ERROR_CASES = {  # case: (input, output, extra arguments, words of the one-line error)
    "missing video": (lambda tmp: str(tmp / "nowhere.mp4"), "out.mp4", [], ["nowhere.mp4", "does not exist"]),
    "corrupt video": (_corrupt, "out.mp4", [], ["broken.mp4", "corrupt"]),
    "zero frames": (_zero_frames, "out.mp4", [], ["empty.avi", "no frames"]),
    "image output": (None, "out.png", [], ["out.png", "image file name"]),
    "folder output": (None, "existing", [], ["existing", "is a folder"]),
    "unknown extension": (None, "out.xyz", [], ["out.xyz", "unknown extension"]),
    "output is input": (None, "clip.mp4", [], ["clip.mp4", "is the input video"]),
    "AB pairs": (None, "out.mp4", ["--ab"], ["clip.mp4", "plain images"]),
    "images to a video": (lambda tmp: str(tmp), "out.mp4", [], ["out.mp4", "needs a video --input"]),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_videos_and_outputs_are_one_line_errors(tmp_path, checkpoint, capsys, case):
    make_input, output, extra, words = ERROR_CASES[case]
    clip = make_input(tmp_path) if make_input else _write_video(tmp_path / "clip.mp4", range(4))
    (tmp_path / "existing").mkdir()
    assert infer_main(["--checkpoint", checkpoint, "--input", clip, "--output", str(tmp_path / output),
                       *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and all(word in error for word in words), error
    assert case == "output is input" or not (tmp_path / output).is_file()
