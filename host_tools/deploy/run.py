"""One deploy, start to end: check the folder, read the board, check the folder against it,
plan, copy, verify, reset, and with --watch wait for the device on the broker.

Exit codes: 0 done; 1 it went wrong on the way (the board stopped answering, a hash did not
verify, the device did not come online); 2 refused before anything was written."""

import time
from dataclasses import dataclass
from pathlib import Path

from agent import files
from host_tools.deploy import abi, copy, plan, probe, verify
from host_tools.deploy.link import DeployError, Link
from host_tools.deploy.progress import Progress
from host_tools.deploy.watch import Watcher, WatchError
from host_tools.newdevice import NewDeviceError, parse_broker


@dataclass
class Options:
    port: str
    folder: Path
    dry_run: bool = False
    force: bool = False
    watch: bool = False
    broker: str | None = None
    user: str | None = None
    password: str | None = None
    ca: str | None = None
    watch_timeout_s: float = 90


def _refuse(problems: list[str]) -> int:
    for p in problems:
        print(f"error: {p}")
    print("nothing was written")
    return 2


def _watcher(opts: Options, cfg: dict) -> Watcher:
    host, port = cfg["mqtt"]["host"], cfg["mqtt"]["port"]
    if opts.broker:
        try:
            host, given = parse_broker(opts.broker)
        except NewDeviceError as e:
            raise WatchError(str(e)) from None
        port = given or port
    return Watcher(host, port, cfg, opts.user, opts.password, opts.ca)


def deploy(opts: Options, start: float) -> int:
    loaded, problems = verify.check_folder(opts.folder)
    if problems:
        return _refuse(problems)
    board, cfg = loaded["board"], loaded["config"]
    role = cfg["device"]["role"]
    try:
        with Link(opts.port) as link:
            info = probe.parse(link.exec(probe.PROBE))
            print(f"board: {info.describe()}", flush=True)
            kind = verify.deploy_kind(info)
            try:
                exe = abi.compiler_for(info) if kind == "mpy" else None
            except abi.AbiError as e:
                return _refuse([str(e)])
            problems = verify.check_against_board(board, role, info)
            if problems:
                return _refuse(problems)
            return _deploy_on(link, info, opts, cfg, exe, start)
    except DeployError as e:
        print(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: a board stopped inside the swap boots in safe mode (the REPL is "
              "yours); deploy again to finish")
        return 1


def _deploy_on(link: Link, info: probe.BoardInfo, opts: Options, cfg: dict, exe: Path | None,
               start: float) -> int:
    items = plan.firmware_items(exe) + plan.device_items(opts.folder, cfg)
    on_board = plan.read_board(link, [i.path for i in items])
    p = plan.make_plan(items, on_board)
    if opts.force:
        p = plan.Plan(items, list(items), p.stale, p.make_agent_dir, p.remove_agent_dir)
    if info.frozen_agent:
        print("the agent is frozen in this image: only boot.py, main.py and the device files "
              "go on the flash (a newer agent needs a new image: make firmware)")
    was_safe = files.SAFE_MODE_FILE in on_board.root_entries
    if opts.dry_run:
        for i in p.changed:
            print(f"  would copy {i.path} ({len(i.data)} B)")
        for s in p.stale:
            print(f"  would remove {s}")
        print(f"dry run: {len(p.changed)} to copy, {p.unchanged} unchanged, "
              f"{len(p.stale)} to remove, {p.bytes_to_copy} B; nothing written")
        return 0
    watcher = None
    if opts.watch:
        try:
            watcher = _watcher(opts, cfg)
            watcher.start(timeout_s=15)
        except WatchError as e:
            return _refuse([str(e)])
    try:
        progress = Progress(len(p.changed), p.bytes_to_copy)
        copy.copy_files(link, p, progress)
        progress.close()
        copy.swap_in(link, p, was_safe)
        copy.remove_stale(link, p)
        copy.verify(link, items)
        copy.finish(link, p, was_safe)
        link.reset()
        link.close()  # nobody would read the agent's console: a full pty would stall it
        print(f"deployed: {len(p.changed)} copied, {p.unchanged} unchanged, "
              f"{len(p.stale)} removed, {p.bytes_to_copy} B, "
              f"{time.monotonic() - start:.1f} s; board reset", flush=True)
        if was_safe:
            print(f"note: the board was in safe mode before ({files.SAFE_MODE_FILE} on its "
                  "flash) and stays so: the agent will not start")
        if watcher is None:
            return 0
        dev = cfg["device"]
        print(f"watching for {dev['role']} {dev['id']} on {watcher.where} "
              f"(up to {opts.watch_timeout_s:.0f} s)...", flush=True)
        _, state = watcher.wait(opts.watch_timeout_s)
        print(f"online: {dev['id']} is up; first state {state[:120].decode(errors='replace')}",
              flush=True)
        return 0
    except WatchError as e:
        print(f"error: {e}")
        return 1
    finally:
        if watcher is not None:
            watcher.stop()
