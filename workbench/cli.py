"""``workbench`` command line. Each sub-command parses its arguments and calls one library function.

Errors the user can fix (:class:`~workbench.errors.WorkbenchError`) and OS errors (disk full, permission
denied, a missing file) print one line ``error: …`` and exit with status 2; nothing partial is left in
``results/``. ``--debug`` shows the traceback instead. The global options (``--data-root``, ``--debug``,
``-q``, ``-v``) may be given before or after the sub-command.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError

REPRODUCE_ORDER = ["table1", "table2", "table3", "table4", "table5", "table6", "table7", "table8", "complexity", "fig2",
                   "fig1c", "fig4", "fig6", "fig7"]


def _overrides(items: list[str] | None) -> dict[str, Any]:
    from workbench.config import apply_overrides  # lazy: keeps `workbench --help` fast

    return apply_overrides({}, items or [])


def _names(value: str | None) -> list[str] | None:
    """``"a,b"`` → ``["a", "b"]`` (``None`` when not given)."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ConfigError(f"--sequences {value!r}: give comma-separated sequence names, e.g. hypersmooth,rafting")
    return names


def cmd_data_check(a: argparse.Namespace) -> int:
    from workbench.data.catalog import check_dataset  # lazy: keeps `workbench --help` fast
    from workbench.data.embedded_paired import PAIRED_SPLITS  # lazy: as above
    from workbench.degrade.embedded_paired import ensure_paired_split  # lazy: as above

    if a.name in PAIRED_SPLITS:  # built on first use, like the embedded splits
        ensure_paired_split(a.name)
    problems = check_dataset(a.name, Path(a.data_root) if a.data_root else None, deep=a.deep)
    for p in problems:
        print(p)
    if not problems:
        print(f"{a.name}: layout OK")
    return 1 if problems else 0


def cmd_data_build(a: argparse.Namespace) -> int:
    from workbench.data.embedded import ALL_SPLITS, ensure_split  # lazy: keeps `workbench --help` fast
    from workbench.data.embedded_paired import PAIRED_SPLITS  # lazy: as above
    from workbench.degrade.embedded_paired import ensure_paired_split  # lazy: as above

    for split in a.splits.split(",") if a.splits else (*ALL_SPLITS, *PAIRED_SPLITS):
        print(ensure_paired_split(split) if split in PAIRED_SPLITS else ensure_split(split))
    return 0


def cmd_data_build_srvd(a: argparse.Namespace) -> int:
    from workbench.data.srvd import build_srvd  # lazy: keeps `workbench --help` fast
    from workbench.paths import data_root  # lazy: as above

    build_srvd(Path(a.mot17), data_root(a.data_root), max_frames=a.max_frames, progress=print)
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from workbench.train.run import train_from_config  # lazy: keeps `workbench --help` fast

    out = train_from_config(Path(a.config), overrides=a.set or [], out_dir=Path(a.out) if a.out else None,
                            resume=a.resume, device=a.device, data_root=a.data_root)
    print(out)
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    if getattr(a, "executor", "inprocess") != "inprocess":
        return cmd_run_executor(a)
    from workbench.pipeline.runner import run_pipeline  # lazy: keeps `workbench --help` fast

    s = run_pipeline(a.spec, a.profile, data_root=Path(a.data_root) if a.data_root else None, device=a.device,
                     overrides=_overrides(a.set), notebook=not a.no_notebook, sequences=_names(a.sequences))
    print(f"{s.spec_id}/{s.profile}: {s.version_dir} (ran {len(s.cells_run)}, reused {len(s.cells_reused)}, "
          f"{s.seconds:.0f} s)")
    return 0


def cmd_run_executor(a: argparse.Namespace) -> int:
    """``workbench run SPEC --executor local|slurm``: training cells as submitit jobs (docs/scaling.md)."""
    from workbench.pipeline.executors import run_with_executor  # lazy: keeps `workbench --help` fast

    out = run_with_executor(a.spec, a.profile, a.executor, data_root=Path(a.data_root) if a.data_root else None,
                            device=a.device, overrides=_overrides(a.set), notebook=not a.no_notebook)
    if isinstance(out, list):
        for r in out:
            print(f"{r['stage']:<5}  {r['job_id']:<12}  {r['stdout']}")
        print(f"submitted or pending: {len(out)} jobs; `workbench status {a.spec} --profile {a.profile}` "
              "follows them, and this command publishes once every cell is done")
        return 0
    print(f"{out.spec_id}/{out.profile}: {out.version_dir} (ran {len(out.cells_run)}, reused "
          f"{len(out.cells_reused)}, {out.seconds:.0f} s)")
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    from workbench.pipeline.executors import status  # lazy: keeps `workbench --help` fast

    rows = status(a.spec, a.profile, data_root=Path(a.data_root) if a.data_root else None, device=a.device)
    cols = ("cell", "stage", "state", "job_id", "log")
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols}
    print("  ".join(f"{c:<{widths[c]}}" for c in cols).rstrip())
    for r in rows:
        print("  ".join(f"{r[c]:<{widths[c]}}" for c in cols).rstrip())
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    import pandas as pd  # lazy: keeps `workbench --help` fast

    from workbench import atomic  # lazy: keeps `workbench --help` fast
    from workbench.paths import runs_root  # lazy: keeps `workbench --help` fast
    from workbench.pipeline.plan import plan, summary_lines  # lazy: keeps `workbench --help` fast

    df = plan(a.spec, a.profile, device=a.device, batch=a.batch, patch=a.patch, steps=a.steps, warmup=a.warmup)
    out = Path(a.out) if a.out else runs_root() / "plans" / f"{Path(a.spec).stem}-{a.profile}.csv"
    atomic.write_text(out, df.to_csv(index=False))
    shown = df.drop(columns=["table", "profile", "device"])
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n".join(summary_lines(df, a.device)))
    print(f"csv: {out}")
    return 0


def cmd_notebook(a: argparse.Namespace) -> int:
    from workbench.report.notebook import rerender  # lazy: keeps `workbench --help` fast

    print(rerender(a.id, Path(a.version_dir), _overrides(a.param)))
    return 0


def cmd_reproduce(a: argparse.Namespace) -> int:
    from workbench.reproduce import reproduce  # lazy: keeps `workbench --help` fast

    specs = a.only.split(",") if a.only else REPRODUCE_ORDER
    reproduce(specs, profile=a.profile, data_root=Path(a.data_root) if a.data_root else None, device=a.device,
              sequences=_names(a.sequences), retrain=a.retrain, report=not a.no_report, jobs=a.jobs)
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from workbench.report.assemble import build_report  # lazy: keeps `workbench --help` fast

    out = build_report(a.profile, notebook=not a.no_notebook)
    print(out)
    for name in ("report.html", "report.ipynb", "verdicts.csv", "tables.csv"):
        if (out / name).exists():
            print(f"  {out / name}")
    return 0


def cmd_zoo_list(a: argparse.Namespace) -> int:
    from workbench.pipeline.zoo import zoo_root  # lazy: keeps `workbench --help` fast
    from workbench.pipeline.zoo_check import list_entries  # lazy: as above

    table = list_entries(zoo_root(a.profile))
    print(table.to_string(index=False) if not table.empty else f"{zoo_root(a.profile)}: no entries")
    return 0


def cmd_zoo_check(a: argparse.Namespace) -> int:
    from workbench.pipeline.zoo import zoo_root  # lazy: keeps `workbench --help` fast
    from workbench.pipeline.zoo_check import check_entry  # lazy: as above

    r = check_entry(zoo_root(a.profile), a.entry, dataset=a.dataset, sigma=a.sigma, device=a.device,
                    tolerance_db=a.tolerance)
    print(f"{r.entry}: committed {r.committed_db:.4f} dB, retrained from scratch {r.retrained_db:.4f} dB "
          f"(Δ {r.difference_db:+.4f} dB, tolerance ±{r.tolerance_db} dB; training {r.train_s:.0f} s) — "
          + ("within tolerance" if r.ok else "OUT OF TOLERANCE"))
    if not r.same_processor:
        print(f"  trained on {r.trained_on}, retrained on {r.retrained_on}: CPU arithmetic differs between "
              "processors, and training amplifies it (a tenth of a dB measured); check on the entry's processor")
    return 0 if r.ok else 1


def cmd_zoo_compact(a: argparse.Namespace) -> int:
    from workbench.pipeline.zoo import compact, zoo_root  # lazy: keeps `workbench --help` fast

    changed = compact(zoo_root(a.profile))
    print(f"{zoo_root(a.profile)}: {len(changed)} entries rewritten to the current storage"
          + (f" ({', '.join(changed)})" if changed else ""))
    return 0


def cmd_zoo_prior(a: argparse.Namespace) -> int:
    from workbench.pipeline.zoo import rekey_prior, zoo_root  # lazy: keeps `workbench --help` fast

    print(rekey_prior(zoo_root(a.profile)))
    return 0


ZOO_MODELS = "fastdvdnet,edvr,basicvsr-uni,basicvsr-bi,basicvsrpp-uni,basicvsrpp-bi,ncfl-uni,ncfl-bi"


def cmd_audit_complexity(a: argparse.Namespace) -> int:
    import pandas as pd  # lazy: keeps `workbench --help` fast

    from workbench.evaluate.complexity import audit_complexity  # lazy: keeps `workbench --help` fast

    df = audit_complexity(models=a.models.split(","), resolution=a.resolution, out_csv=Path(a.out) if a.out else None,
                          runtime=a.runtime, runtime_resolution=a.runtime_resolution, repeats=a.repeats,
                          device=a.device, fvcore_resolution=a.fvcore_resolution)
    wide = df.pivot_table(index="method", columns="metric", values="value", aggfunc="first")
    with pd.option_context("display.width", 200):
        print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
    return 0


def cmd_bench_runtime(a: argparse.Namespace) -> int:
    from workbench.evaluate.complexity import benchmark_runtime  # lazy: keeps `workbench --help` fast

    benchmark_runtime(models=a.models.split(","), resolution=a.resolution, device=a.device, warmup=a.warmup,
                      repeats=a.repeats, deform_impl=a.deform_impl)
    return 0


def cmd_bench_efficiency(a: argparse.Namespace) -> int:
    # lazy: keeps `workbench --help` fast
    from workbench.evaluate.complexity.audit import efficiency_table, parse_resolution

    df = efficiency_table(a.models.split(","), runtime_resolution=parse_resolution(a.runtime_resolution),
                          repeats=a.repeats, device=a.device)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def cmd_bench_memory(a: argparse.Namespace) -> int:
    from workbench.evaluate.complexity import benchmark_memory  # lazy: keeps `workbench --help` fast
    from workbench.evaluate.complexity.audit import parse_resolution  # lazy: keeps `workbench --help` fast

    df = benchmark_memory(a.models.split(","), lengths=tuple(int(x) for x in a.lengths.split(",")),
                          resolution=parse_resolution(a.resolution), device=a.device)
    print(df.to_string(index=False))
    return 0


def cmd_bench_deform(a: argparse.Namespace) -> int:
    from workbench.evaluate.complexity.deform_bench import (  # lazy: keeps `workbench --help` fast
        benchmark_deform_conv,
        parse_shape,
    )

    if a.shape:
        n, c, h, w = parse_shape(a.shape)
    else:
        n, c, h, w = a.batch, a.channels, a.height, a.width
    r = benchmark_deform_conv(channels=c, groups=a.groups, height=h, width=w, batch=n, repeats=a.repeats,
                              warmup=a.warmup, device=a.device, impl=a.impl)
    print("\n".join(r.lines()))
    return 0


def cmd_bench_format(a: argparse.Namespace) -> int:
    from workbench.pipeline.format_bench import benchmark_formats  # lazy: keeps `workbench --help` fast

    rows = benchmark_formats(a.specs.split(","), a.profile, frames=a.frames, height=a.height, width=a.width,
                             repeats=a.repeats)
    print(f"streaming inference, {a.frames} frames of {a.width}x{a.height}, {torch_threads()} thread(s), best of "
          f"{a.repeats}; ratio = NCHW ms ÷ channels-last ms")
    print("\n".join(r.line() for r in rows))
    return 0


def torch_threads() -> int:
    import torch  # lazy: keeps `workbench --help` fast

    return int(torch.get_num_threads())


def cmd_bench_loader(a: argparse.Namespace) -> int:
    from workbench.train.loader_bench import benchmark_loader  # lazy: keeps `workbench --help` fast

    r = benchmark_loader(dataset=a.dataset, data_root=Path(a.data_root) if a.data_root else None,
                         workers=a.workers, batch=a.batch, patch=a.patch, clip_frames=a.clip_frames,
                         batches=a.batches, cache_frames=a.cache_frames, model=a.model,
                         model_args=_overrides(a.model_arg) if a.model_arg else None, precision=a.precision,
                         device=a.device, steps=a.steps, warmup=a.warmup)
    print("\n".join(r.lines()))
    return 0


def cmd_bench_gpu_check(a: argparse.Namespace) -> int:
    from workbench.train.gpu_check import GpuCheckSettings, plan, run_gpu_check  # lazy: keeps --help fast

    settings = GpuCheckSettings(budget_s=a.budget_s)
    if a.dry_run:
        checks = plan(settings)
        print(f"would run {len(checks)} checks on {a.gpu} (budget {a.budget_s:.0f} s) and write "
              f"{a.out or 'runs/gpu_check/gpu-check-<UTC time>.csv'}:")
        print("\n".join(f"  {c.name}: {c.what}" for c in checks))
        return 0
    run_gpu_check(device=a.gpu, out=Path(a.out) if a.out else None, settings=settings)
    return 0


RESULTS_COLUMNS = [("table", "table"), ("profile", "profile"), ("version", "version"), ("created_utc", "created"),
                   ("commit", "commit"), ("result_kind", "kind"), ("overrides", "overrides"), ("note", "note")]


def cmd_results_list(a: argparse.Namespace) -> int:
    from workbench.store.versions import read_index  # lazy: keeps `workbench --help` fast

    rows = [{**r, "commit": r["git_commit"][:10] + ("+dirty" if r.get("git_dirty") else "")} for r in read_index()]
    rows = [{k: r.get(k) or "-" for k, _ in RESULTS_COLUMNS} for r in rows]
    widths = {k: max([len(h), *(len(r[k]) for r in rows)]) for k, h in RESULTS_COLUMNS}
    print("  ".join(f"{h:<{widths[k]}}" for k, h in RESULTS_COLUMNS).rstrip())
    for r in rows:
        print("  ".join(f"{r[k]:<{widths[k]}}" for k, _ in RESULTS_COLUMNS).rstrip())
    return 0


def cmd_pretrain_spynet(a: argparse.Namespace) -> int:
    from workbench.train.motion_prior import pretrained_spynet, read_report  # lazy: keeps `workbench --help` fast

    weights = pretrained_spynet(device=a.device, progress=True, force=a.force)
    r = read_report(weights)
    by_sigma = ", ".join(f"σ={s}: {v:.3f} px" for s, v in r["epe_after_px_by_sigma"].items())
    print(f"SPyNet pretrained here ({r['steps']} fine-tuning steps, seed {r['seed']}, {r['wall_seconds']:.0f} s): "
          f"held-out EPE {r['epe_after_px']:.3f} px vs zero flow {r['epe_zero_flow_px']:.3f} px "
          f"(ratio {r['epe_ratio_to_zero_flow']:.2f}; calibrated initialisation, gain {r['init_gain']}: "
          f"{r['epe_before_px']:.3f} px)")
    print(f"noisy frames: {by_sigma}")
    print(weights)
    return 0


class _PluginAction(argparse.Action):
    """``--plugin MODULE[:FACTORY]``: import the user's model module while the arguments are parsed, so the
    ids it registers are known to the command (a bad plugin is a usage error, exit status 2)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from workbench.plugins import load_plugin  # lazy: keeps `workbench --help` fast

        try:
            load_plugin(str(values))
        except WorkbenchError as exc:
            parser.error(str(exc))
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])


def add_plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action=_PluginAction, metavar="MODULE[:FACTORY]",
                        help="import a user model module (repeatable); see docs/plugins.md")


def cmd_eval(a: argparse.Namespace) -> int:
    from workbench.pipeline.external import evaluate_checkpoint  # lazy: keeps `workbench --help` fast

    over = _overrides(a.set)
    unknown = sorted(set(over) - {"evaluate"})
    if unknown:
        raise WorkbenchError(f"--set {', '.join(unknown)}: eval only takes evaluate.* overrides")
    s = evaluate_checkpoint(a.model, table=a.table, profile=a.profile, checkpoint=a.checkpoint, fmt=a.format,
                            model_args=_overrides(a.model_arg), method=a.method, overrides=over.get("evaluate"),
                            device=a.device, data_root=Path(a.data_root) if a.data_root else None,
                            frames_dir=Path(a.save_frames) if a.save_frames else None, notebook=not a.no_notebook)
    print(f"{a.table}/{a.profile}: {s.version_dir} ({'reused' if s.reused else 'ran'} the eval cell)"
          + (f"; frames in {s.frames_dir}" if s.frames_dir else ""))
    return 0


def add_eval_parser(sub: Any, parser: Any) -> None:
    e = parser(sub, "eval", "evaluate one model (zoo id or plugin) with a checkpoint under a table's "
               "protocol; publishes a version beside the workbench's rows and the paper's")
    e.add_argument("model", help="model id: a zoo id, an entry-point id or module:factory")
    e.add_argument("--checkpoint", default=None, help="weights file (none: the model's initial weights)")
    e.add_argument("--format", default="plain", choices=["plain", "basicsr", "mmagic", "fastdvdnet"],
                   help="checkpoint layout, read by the matching importer")
    e.add_argument("--table", default="table1", help="the table whose protocol and reported numbers apply")
    e.add_argument("--profile", default="smoke", help="profile of the table's spec (smoke, full)")
    e.add_argument("--method", default=None, help="method name in the results (default: the model id)")
    e.add_argument("--model-arg", action="append", help="constructor argument key=value (YAML value)")
    e.add_argument("--set", action="append", help="evaluate.key=value override of the protocol (recorded)")
    e.add_argument("--save-frames", default=None, metavar="DIR", help="write the restored frames (8-bit PNG)")
    e.add_argument("--device", default="cpu", help=DEVICE_HELP)
    e.add_argument("--no-notebook", action="store_true", help="publish without running the notebook")
    add_plugin_option(e)
    e.set_defaults(func=cmd_eval)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults and choices in every option's help; descriptions keep their line breaks."""


def _global_options(p: argparse.ArgumentParser, default: Any) -> None:
    """The options every (sub-)command accepts. The top parser holds the real defaults; the sub-commands
    use ``argparse.SUPPRESS`` so that a value given before the sub-command is not reset after it."""
    def d(value: Any) -> Any:
        return value if default is None else default

    p.add_argument("--data-root", default=d(None), metavar="PATH",
                   help="dataset root (else $WORKBENCH_DATA, else <repo>/data)")
    p.add_argument("--debug", action="store_true", default=d(False),
                   help="show the full traceback of an error instead of one line")
    p.add_argument("-q", "--quiet", action="count", default=d(0), help="fewer messages (no progress bars)")
    p.add_argument("-v", "--verbose", action="count", default=d(0), help="more messages")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: Any) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, help="print the version and git commit, then exit")

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(version_line())
        parser.exit()


def version_line() -> str:
    """``workbench 0.1.0 (ncfl-workbench, git 0123456789ab[+dirty])``."""
    import importlib.metadata  # lazy: only --version needs it

    from workbench.paths import REPO_ROOT  # lazy: keeps `workbench --help` fast
    from workbench.provenance import git_info  # lazy: imports torch; only --version needs it

    try:
        version = importlib.metadata.version("ncfl-workbench")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without `pip install`
        import tomllib  # lazy: only the checkout fallback of --version needs it

        version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    g = git_info()
    commit = str(g["git_commit"])[:12] + ("+dirty" if g["git_dirty"] else "")
    return f"workbench {version} (ncfl-workbench, git {commit})"


DEVICE_HELP = "torch device: cpu, cuda, cuda:N (checked before any work)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description=__doc__, formatter_class=_Formatter)
    _global_options(p, None)
    p.add_argument("--version", action=_VersionAction)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def parser(group: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help_text, description=help_text, parents=[common],  # type: ignore[no-any-return]
                                formatter_class=_Formatter)

    def device(q: argparse.ArgumentParser) -> None:
        q.add_argument("--device", default="cpu", help=DEVICE_HELP)

    data = parser(sub, "data", "datasets").add_subparsers(dest="data_command", required=True, metavar="ACTION")
    c = parser(data, "check", "check a dataset's layout; one line per problem")
    c.add_argument("name", help="dataset id: set8, davis2017-train, embedded-train, embedded-test, crvd, "
                   "crvd-train, srvd, embedded-raw-train, embedded-raw-test, embedded-{rain,rainstreak,haze}-"
                   "{train,test}, and the embedded-mini-... form of each embedded split")
    c.add_argument("--root", dest="data_root", default=argparse.SUPPRESS, metavar="PATH",
                   help="alias of --data-root")
    c.add_argument("--deep", action="store_true", help="also decode every frame")
    c.set_defaults(func=cmd_data_check)
    b = parser(data, "build-embedded", "build the embedded data sets (smoke and mini splits) into the cache")
    b.add_argument("--splits", default=None, metavar="A,B",
                   help="only these splits (embedded-train, embedded-test, embedded-mini-train, embedded-mini-test, "
                        "embedded-{rain,rainstreak,haze}-{train,test})")
    b.set_defaults(func=cmd_data_build)
    bs = parser(data, "build-srvd", "unprocess MOT17 train videos 02/09/10/11 into <data root>/SRVD (RViDeNet's "
                "SRVD, docs/protocols.md §2.3)")
    bs.add_argument("--mot17", required=True, metavar="PATH",
                    help="unpacked MOT17 (MOT17-02/img1 or train/MOT17-02-FRCNN/img1)")
    bs.add_argument("--max-frames", type=int, default=None, help="only the first N frames of each video")
    bs.set_defaults(func=cmd_data_build_srvd)

    t = parser(sub, "train", "train one model from a YAML config")
    t.add_argument("--config", required=True, metavar="YAML", help="training config (unknown keys are errors)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override key.sub=value (YAML value)")
    t.add_argument("--out", default=None, metavar="DIR", help="run folder (default: under the runs root)")
    t.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    device(t)
    add_plugin_option(t)
    t.set_defaults(func=cmd_train)

    r = parser(sub, "run", "run one pipeline spec (pipelines/<spec>.yaml) and publish a results version")
    r.add_argument("spec", help="spec id (table1, …) or a path to a spec YAML")
    r.add_argument("--profile", default="smoke", help="profile of the spec (smoke, full, …)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a cell key for every cell, key.sub=value")
    r.add_argument("--sequences", default=None, metavar="A,B",
                   help="evaluate only these sequences (e.g. the GoPro part of Set8); rows are marked as a subset")
    device(r)
    r.add_argument("--no-notebook", action="store_true", help="publish without running the notebook")
    add_plugin_option(r)
    r.add_argument("--executor", default="inprocess", choices=["inprocess", "local", "slurm"],
                   help="where training cells run: this process (default), submitit's local executor, or SLURM")
    r.set_defaults(func=cmd_run)
    add_eval_parser(sub, parser)

    st = parser(sub, "status", "jobs of a spec's cells: queued, running, done or failed, ids and logs")
    st.add_argument("spec", help="spec id (table1, …) or a path to a spec YAML")
    st.add_argument("--profile", default="smoke", help="profile of the spec")
    device(st)
    st.set_defaults(func=cmd_status)

    pl = parser(sub, "plan", "time a few training steps per model; device-hours per cell and table, jobs, GPUs")
    pl.add_argument("spec", help="spec id (table1, …) or a path to a spec YAML")
    pl.add_argument("--profile", default="full", help="profile of the spec")
    device(pl)
    pl.add_argument("--batch", type=int, default=None, help="time at this batch (scaled to the recipe's)")
    pl.add_argument("--patch", type=int, default=None, help="time at this patch size in px (scaled to the recipe's)")
    pl.add_argument("--steps", type=int, default=2, help="timed steps per model")
    pl.add_argument("--warmup", type=int, default=1, help="untimed steps per model first")
    pl.add_argument("--out", default=None, help="CSV path (default runs/plans/<spec>-<profile>.csv)")
    pl.set_defaults(func=cmd_plan)

    n = parser(sub, "notebook", "re-run a notebook on a published version's data; publishes a new version "
               "(the given one is never modified)")
    n.add_argument("id", help="notebook id (notebooks/<id>.ipynb)")
    n.add_argument("--version-dir", required=True, metavar="DIR",
                   help="a published version, results/<table>/<profile>/vNNNN")
    n.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="notebook parameter key=value")
    n.set_defaults(func=cmd_notebook)

    rp = parser(sub, "reproduce", "run every pipeline and notebook, then the report (the main job)")
    rp.add_argument("--profile", default="mini", choices=["smoke", "mini", "full"],
                    help="profile of every spec (specs without it are skipped)")
    rp.add_argument("--retrain", action="store_true",
                    help="train every model from scratch instead of taking it from the profile's zoo")
    rp.add_argument("--no-report", action="store_true", help="skip the report version at the end")
    rp.add_argument("--only", default=None, metavar="IDS", help="comma-separated spec ids (default: all)")
    rp.add_argument("--sequences", default=None, metavar="A,B",
                    help="evaluate only these sequences in the specs that evaluate sequences")
    rp.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="run the cells ahead in N worker processes sharing the threads (default 1: none)")
    device(rp)
    rp.set_defaults(func=cmd_reproduce)

    rep = parser(sub, "report", "one report version from the newest results of a profile: tables, verdicts, "
                 "zoo curves, figures (papermill + HTML)")
    rep.add_argument("--profile", default="mini", help="profile whose newest versions are read")
    rep.add_argument("--no-notebook", action="store_true", help="write the CSVs only")
    rep.set_defaults(func=cmd_report)

    zoo_p = parser(sub, "zoo", "the committed model zoo (results/zoo/<profile>)").add_subparsers(
        dest="zoo_command", required=True, metavar="ACTION")
    zl = parser(zoo_p, "list", "the zoo's entries: model, seed, steps, wall time, final loss, commit")
    zl.add_argument("--profile", default="mini", help="profile of the zoo")
    zl.set_defaults(func=cmd_zoo_list)
    zc = parser(zoo_p, "check", "retrain one entry from scratch; its PSNR must match the committed one")
    zc.add_argument("entry", help="entry name (see `workbench zoo list`)")
    zc.add_argument("--profile", default="mini", help="profile of the zoo")
    zc.add_argument("--dataset", default="embedded-mini-test", help="test dataset")
    zc.add_argument("--sigma", type=float, default=50.0, help="AWGN σ on the 0-255 scale")
    zc.add_argument("--tolerance", type=float, default=0.05, help="allowed |ΔPSNR| in dB")
    device(zc)
    zc.set_defaults(func=cmd_zoo_check)
    zk = parser(zoo_p, "compact", "rewrite older entries to the current storage (float16 weights, shared "
                "training-input lists); config hashes unchanged")
    zk.add_argument("--profile", default="mini", help="profile of the zoo")
    zk.set_defaults(func=cmd_zoo_compact)
    zp = parser(zoo_p, "prior", "file the zoo's motion prior under the current code's cache key (after a source "
                "change that leaves its weights byte-identical), so evaluating the zoo does not retrain it")
    zp.add_argument("--profile", default="mini", help="profile of the zoo")
    zp.set_defaults(func=cmd_zoo_prior)

    pt = parser(sub, "pretrain", "networks pretrained here").add_subparsers(
        dest="pretrain_command", required=True, metavar="NETWORK")
    ps = parser(pt, "spynet", "SPyNet on embedded synthetic motion (cached): held-out EPE vs zero flow")
    device(ps)
    ps.add_argument("--force", action="store_true", help="train again even if cached")
    ps.set_defaults(func=cmd_pretrain_spynet)

    res = parser(sub, "results", "results store").add_subparsers(dest="results_command", required=True,
                                                                  metavar="ACTION")
    rl = parser(res, "list", "list every results version with what tells them apart (commit, kind, "
                "overrides, note)")
    rl.set_defaults(func=cmd_results_list)

    au = parser(sub, "audit", "audits").add_subparsers(dest="audit_command", required=True, metavar="AUDIT")
    ac = parser(au, "complexity", "MACs/FLOPs per output frame (paper and full conventions), params, runtime")
    ac.add_argument("--models", default=ZOO_MODELS, help="comma-separated zoo model ids")
    ac.add_argument("--resolution", default="960x540", help="WxH of one output frame")
    ac.add_argument("--runtime", action="store_true", help="also time each model")
    ac.add_argument("--runtime-resolution", default=None, help="WxH for the runtime (default: --resolution)")
    ac.add_argument("--repeats", type=int, default=3, help="timed runs per model")
    ac.add_argument("--fvcore-resolution", default=None, metavar="WxH",
                    help="also count with fvcore's FlopCountAnalysis at this small size (CPU tensors)")
    device(ac)
    ac.add_argument("--out", default=None, metavar="CSV", help="write the long-format rows to this CSV (atomically)")
    ac.set_defaults(func=cmd_audit_complexity)

    be = parser(sub, "bench", "benchmarks (ratios measured in one run)").add_subparsers(
        dest="bench_command", required=True, metavar="BENCH")
    br = parser(be, "runtime", "ms/frame, ratio to FastDVDNet, achieved GFLOP/s beside a GEMM peak measured "
                "between the model's calls, BasicVSR++/NCFL time vs FLOPs ratio, one run")
    br.add_argument("--models", default=ZOO_MODELS, help="comma-separated zoo model ids")
    br.add_argument("--resolution", default="960x540", help="WxH of one output frame")
    device(br)
    br.add_argument("--warmup", type=int, default=1, help="untimed runs per model")
    br.add_argument("--repeats", type=int, default=5, help="timed runs per model")
    br.add_argument("--deform-impl", choices=("auto", "current", "legacy", "native"), default="auto",
                    help="deformable convolution: the default rule (auto), the plain one (current), the plain "
                    "one it replaced (legacy) or the native CPU kernel (before/after)")
    br.set_defaults(func=cmd_bench_runtime)
    bf = parser(be, "efficiency", "GFLOPs vs the paper, ms/frame, achieved GFLOP/s vs matmul, one run")
    bf.add_argument("--models", default="ncfl-uni,ncfl-bi", help="comma-separated zoo model ids")
    bf.add_argument("--runtime-resolution", default="480x272", help="WxH for the runtime")
    bf.add_argument("--repeats", type=int, default=3, help="timed runs per model")
    device(bf)
    bf.set_defaults(func=cmd_bench_efficiency)
    bm = parser(be, "memory", "peak memory when streaming sequences of two lengths")
    bm.add_argument("--models", default=ZOO_MODELS, help="comma-separated zoo model ids")
    bm.add_argument("--lengths", default="8,32", help="comma-separated sequence lengths (frames)")
    bm.add_argument("--resolution", default="960x540", help="WxH of one frame")
    device(bm)
    bm.set_defaults(func=cmd_bench_memory)
    bd = parser(be, "deform", "deformable conv ÷ regular conv of the same shape, forward, "
                "backward and forward+backward, current plain, legacy plain and native implementation, one run")
    bd.add_argument("--shape", default=None, help="NxCxHxW of the input (overrides the four options below)")
    bd.add_argument("--batch", type=int, default=1, help="batch size N")
    bd.add_argument("--channels", type=int, default=64, help="input = output channels")
    bd.add_argument("--height", type=int, default=136, help="input height")
    bd.add_argument("--width", type=int, default=240, help="input width")
    bd.add_argument("--groups", type=int, default=16, help="deformable groups")
    bd.add_argument("--warmup", type=int, default=2, help="untimed runs")
    bd.add_argument("--repeats", type=int, default=7, help="timed runs")
    bd.add_argument("--impl", choices=("current", "legacy", "native", "both", "all"), default="all",
                    help="implementation(s) to time: the current plain one, the plain one it replaced, the "
                    "native CPU kernel, current+legacy (both) or all three")
    device(bd)
    bd.set_defaults(func=cmd_bench_deform)
    bfm = parser(be, "format", "streaming ms/frame of each restoration model of the specs with NCHW and with "
                 "channels-last weights, and their ratio, one run")
    bfm.add_argument("--specs", default="table1,table8", help="comma-separated spec ids whose models are timed")
    bfm.add_argument("--profile", default="mini", help="the specs' profile (its model widths)")
    bfm.add_argument("--frames", type=int, default=8, help="frames per stream")
    bfm.add_argument("--height", type=int, default=96, help="frame height")
    bfm.add_argument("--width", type=int, default=160, help="frame width")
    bfm.add_argument("--repeats", type=int, default=3, help="alternating rounds per format (best kept)")
    bfm.set_defaults(func=cmd_bench_format)
    bl = parser(be, "loader", "training clips/s of the loader at 0 and N workers beside a model's training "
                "steps/s on the device, one run")
    bl.add_argument("--dataset", default="embedded-train", help="training dataset id")
    bl.add_argument("--workers", type=int, default=2, help="worker processes of the second measurement")
    bl.add_argument("--batch", type=int, default=4, help="clips per batch")
    bl.add_argument("--patch", type=int, default=64, help="patch size in px")
    bl.add_argument("--clip-frames", type=int, default=5, help="frames per clip (window models: their window)")
    bl.add_argument("--batches", type=int, default=10, help="batches read per loader measurement")
    bl.add_argument("--cache-frames", type=int, default=512, help="decoded frames each sampler keeps (0: none)")
    bl.add_argument("--model", default="fastdvdnet", help="zoo model id (default fastdvdnet, base_channels 8)")
    bl.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                    help="constructor argument key=value (YAML value; replaces the default's arguments)")
    bl.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="arithmetic of the model steps")
    bl.add_argument("--steps", type=int, default=3, help="timed training steps")
    bl.add_argument("--warmup", type=int, default=1, help="untimed training steps first")
    device(bl)
    bl.set_defaults(func=cmd_bench_loader)
    bg = parser(be, "gpu-check", "on a CUDA device, in under 5 minutes: bf16 training steps of every denoising "
                "model, the loader, runtime at 960x540 and deform benchmarks, into one CSV (refused without CUDA)")
    bg.add_argument("--gpu", default="cuda", help="CUDA device to check: cuda or cuda:N")
    bg.add_argument("--out", default=None, metavar="CSV", help="CSV path (default runs/gpu_check/gpu-check-<UTC>.csv)")
    bg.add_argument("--budget-s", type=float, default=300.0, help="checks not started by then are recorded as skipped")
    bg.add_argument("--dry-run", action="store_true", help="list the checks and exit (any machine)")
    bg.set_defaults(func=cmd_bench_gpu_check)
    return p


def check_device(device: str) -> None:
    """Refuse a device this machine or torch build cannot use, before any work starts."""
    import torch  # lazy: keeps `workbench --help` fast

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device!r}: not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise ConfigError(f"--device {device}: {why} (torch {torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif dev.type not in ("cpu", "meta"):
        raise ConfigError(f"--device {device!r}: unsupported device type {dev.type!r}; use cpu or cuda")


class _StderrHandler(logging.Handler):
    """Writes to the *current* ``sys.stderr`` (test capture and redirection swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def configure_logging(quiet: int, verbose: int) -> None:
    """``workbench`` logger at INFO (default), WARNING (``-q``) or DEBUG (``-v``), one line per message."""
    logger = logging.getLogger("workbench")
    for h in list(logger.handlers):
        if isinstance(h, _StderrHandler):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet > verbose else logging.DEBUG if verbose > quiet else logging.INFO)
    logger.propagate = False


def _os_error_line(exc: OSError) -> str:
    path = exc.filename or getattr(exc, "filename2", None)
    what = exc.strerror or type(exc).__name__
    return f"{path}: {what}" if path else f"{what} ({exc})"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    configure_logging(a.quiet, a.verbose)
    try:
        if hasattr(a, "device"):
            check_device(a.device)
        return int(a.func(a))
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (WorkbenchError, OSError) as exc:
        if a.debug:
            traceback.print_exc()
        line = str(exc) if isinstance(exc, WorkbenchError) else _os_error_line(exc)
        print(f"error: {line}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not a bad input: one line unless --debug
        if a.debug:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: internal error {type(exc).__name__}: {first} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main", "build_parser"]
