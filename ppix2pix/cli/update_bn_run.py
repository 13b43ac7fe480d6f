"""The work of tools/update_bn.py (ppix2pix/cli/update_bn.py parses its arguments first)."""
import os

from ..checkpoint import save_checkpoint
from ..data.loader import build_dataset, seeded_input_batches
from ..device import select_device
from ..direction import input_side
from ..errors import CliError
from ..networks import generator_size_multiple
from ..networks.running_statistics import batch_norm_layers, reestimate_running_statistics
from .common import Progress, checkpoint_generator, split_config


def _with_progress(batches, progress):
    for batch in batches:
        yield batch
        progress.update(1)


def update_bn(args):
    """Re-estimate the checkpoint's generator statistics over training batches; write it, set to eval mode, to
    ``args.output``."""
    if args.batches < 1:
        raise CliError(f"--batches must be at least 1, got {args.batches}")
    if not os.path.isfile(args.checkpoint):
        raise CliError(f"checkpoint {args.checkpoint!r} does not exist")
    if os.path.exists(args.output) and os.path.samefile(args.output, args.checkpoint):
        raise CliError(f"--output {args.output!r} is the checkpoint itself; write the new statistics to another file")
    import paddle
    select_device(args.device or "auto")
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    if not batch_norm_layers(net):
        raise CliError(f"{args.checkpoint}: the generator uses model.generator.norm_type "
                       f"{cfg['model']['generator'].get('norm_type')!r}, not batch, so it has no running statistics "
                       f"to re-estimate")
    cfg = split_config(cfg, args, "train")
    dataset = build_dataset(cfg, "train", size_multiple=generator_size_multiple(cfg["model"]["generator"]))
    if len(dataset) == 0:
        raise CliError(f"no training pairs found for dataset.train ({cfg['dataset']['train']['dataroot']})")
    batch_size = cfg["dataset"]["train"]["batch_size"]
    print(f"re-estimating {len(batch_norm_layers(net))} BatchNorm layers over {args.batches} batches of "
          f"{batch_size} from {len(dataset)} training pairs", flush=True)
    paddle.seed(args.seed)
    progress = Progress(args.batches, unit="batches", rate_unit="batches/s")
    side = input_side(cfg["model"]["direction"])
    batches = seeded_input_batches(dataset, side, batch_size, args.batches, args.seed)
    reestimate_running_statistics(net, _with_progress(batches, progress))
    cfg["model"]["test_mode"] = "eval"  # the statistics are what eval mode uses; the tools default to it now
    save_checkpoint({"netG": net.state_dict(), "config": cfg}, args.output)
    print(f"generator with re-estimated statistics: {args.output} (model.test_mode: eval, which the tools now use "
          f"by default)")
