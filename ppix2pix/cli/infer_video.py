"""The video branch of tools/infer.py (ppix2pix/cli/infer.py parses its arguments first): a video file in, its
translation out as a video file; ppix2pix/video.py does the work."""
import sys

from ..choices import VIDEO_EXTENSIONS
from ..device import select_device
from ..errors import CliError
from ..video import VideoReader, check_output_path, frames_per_call, is_video_file, translate_video
from .common import Progress
from .infer_run import load_translator


def check_video_arguments(args):
    """Refuse the options and outputs a video input cannot take, before anything is loaded."""
    if not is_video_file(args.input):
        raise CliError(f"--output {args.output} is a video file name; writing a video needs a video --input "
                       f"({', '.join(VIDEO_EXTENSIONS)}), got {args.input}")
    if args.ab:
        raise CliError(f"--ab: the frames of {args.input} are translated as plain images (AB pair videos are not "
                       f"supported)")
    if args.title:
        raise CliError("--title is for the index page of image outputs; a video input writes no page")
    check_output_path(args.input, args.output)


def describe(translator, args, reader, device):
    generator = translator.cfg["model"]["generator"]
    kind = " (colorization: L in, ab out)" if translator.color_space == "lab" else ""
    mode = translator.test_mode
    if mode == "paper":
        mode += f" (seed {args.seed} before every frame, one frame at a time: identical frames, identical outputs)"
    print(f"{args.input}: {reader.frame_count} frames, {reader.width}x{reader.height}, {reader.fps:g} fps{kind}")
    print(f"generator {generator['name']} {generator['input_nc']}->{generator['output_nc']} channels, size multiple "
          f"{translator.multiple}, test mode {mode}, size mode {args.size_mode}, "
          f"batch {frames_per_call(translator, args.batch_size)}, {'predictor' if args.predictor else 'eager'} on "
          f"{device}")


def infer_video(args):
    check_video_arguments(args)
    with VideoReader(args.input) as reader:
        device = select_device(args.device or "auto")
        translator = load_translator(args, device)
        describe(translator, args, reader, device)
        progress = Progress(reader.frame_count, unit="frames", rate_unit="fps")
        written = translate_video(translator, reader, args.output, args.batch_size, args.side_by_side,
                                  progress.update)
    width = reader.width * (2 if args.side_by_side else 1)
    print(f"wrote {written} frames ({width}x{reader.height}, {reader.fps:g} fps) to {args.output}")
    if written < reader.frame_count:
        print(f"note: {args.input} announced {reader.frame_count} frames, {written} could be decoded (a truncated "
              f"file?)", file=sys.stderr)
    return 0
