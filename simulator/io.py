"""The ground floor's file I/O: safe YAML reading, atomic output folders, checkpoints beside them, JSON.

Nothing here knows about scenarios or commands; it imports nothing from the package but ``errors``.
An output folder is written into a temporary sibling folder and renamed at the end, so an interrupted
or failed run never leaves a half-written output folder behind.
"""

from __future__ import annotations

import atexit
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import yaml

from .errors import ScenarioError, UserInputError

# Limits that keep a hand-edited file from exhausting the machine; README "Errors and limits".
MAX_FILE_BYTES = 1_000_000
MAX_YAML_DEPTH = 20
OUTPUT_MARKER = ".nelm-sim-output"  # in every folder atomic_folder writes: what `--force` may replace
# The longest name of one path component, in bytes, that Linux and macOS file systems (ext4, XFS,
# btrfs, APFS, tmpfs) accept (NAME_MAX); asked of the system it needs a folder that may not exist yet.
NAME_MAX_BYTES = 255
# An output folder is written as a hidden sibling `.NAME.partial-XXXXXXXX` (tempfile's 8 random
# characters) and its lock is `.NAME.lock`: the name itself may use what that staging name leaves.
STAGING_NAME_EXTRA_BYTES = len(".") + len(".partial-") + 8
MAX_OUTPUT_NAME_BYTES = NAME_MAX_BYTES - STAGING_NAME_EXTRA_BYTES


class OutputExistsError(UserInputError):
    pass


class DestinationBusyError(UserInputError):
    pass


# The disk or a limit said no: the user's problem to solve, told in one line naming the path.
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with the path it failed on (a failed write() does not say which file)."""
    if exc.errno in WRITE_FAILURES and not exc.filename:
        return OSError(exc.errno, os.strerror(exc.errno), str(path))
    return exc


# libyaml's parser when PyYAML was built with it (the wheels are): parsing a scenario in C is about ten
# times faster than in Python, which the validation of many files (fuzzing, seed folders, the page) feels.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refuse_what_scenarios_may_not_hold(text: str) -> None:
    """Anchors and aliases (billion laughs), explicit tags and nesting deeper than MAX_YAML_DEPTH, refused
    from the parser's events before anything is built; a node's depth counts the collections around it."""
    open_collections = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.constructor.ConstructorError(None, None, "anchors and aliases are not allowed in scenario files", event.start_mark)
        if isinstance(event, yaml.NodeEvent) and getattr(event, "tag", None) is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"YAML tags such as {event.tag} are not allowed in scenario files", event.start_mark
            )
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            open_collections -= 1
        elif isinstance(event, yaml.NodeEvent):
            if open_collections + 1 > MAX_YAML_DEPTH:
                raise yaml.constructor.ConstructorError(None, None, f"nesting deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                open_collections += 1


def read_yaml(path: Path, what: str = "scenario") -> Any:
    path = Path(path)
    try:
        if not path.exists():
            raise ScenarioError(path, "", f"an existing {what} file")
        if not path.is_file():
            raise ScenarioError(path, "", f"a {what} file, not a folder")
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # never more than the limit, whatever stat says
    except (OSError, ValueError) as exc:  # unreadable, name too long, NUL byte in the name...
        raise ScenarioError(path, "", f"a readable {what} file ({type(exc).__name__})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(path, "", f"a file of at most {MAX_FILE_BYTES} bytes", f"more than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "UTF-8 text") from None
    try:
        _refuse_what_scenarios_may_not_hold(text)
        loader = _SafeLoader(text)  # a SafeLoader: plain scalars, lists and mappings only
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        reason = exc.problem or exc.context or "valid YAML"
        if "maximum nesting depth" in reason:  # libyaml's own limit (1,000), met while it looks ahead
            reason = f"nesting deeper than {MAX_YAML_DEPTH} levels"
        raise ScenarioError(path, where, f"valid YAML ({reason})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", f"valid YAML ({type(exc).__name__})") from None
    except RecursionError:
        raise ScenarioError(path, "", f"YAML nested at most {MAX_YAML_DEPTH} levels deep") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# Destinations this process holds: absolute path -> the open lock file. A lock is held from the moment a
# command checks its destination (before any simulation) until the process ends, so that two commands
# never write the same folder, nor the same PSA checkpoint beside it.
_HELD: dict[Path, int] = {}
# Set by the command line's --wait: queue behind the command holding a destination instead of refusing.
WAIT_FOR_DESTINATION = {"wait": False}


def lock_file(destination: Path) -> Path:
    destination = Path(os.path.abspath(destination))
    return destination.parent / f".{destination.name}.lock"


def _holder(path: Path, attempts: int = 50) -> str:
    """Who holds ``path``: the holder writes its line just after taking the lock, so a lock found with an
    empty or half-written file is read again for up to half a second before the holder goes unnamed."""
    for attempt in range(attempts):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            return f"nelm-sim (pid {info['pid']}, since {info['since']}: {info['command']})"
        except (OSError, ValueError, KeyError, TypeError):
            if attempt + 1 < attempts:
                time.sleep(0.01)
    return "another nelm-sim command"


def claim_destination(destination: Path) -> None:
    """Hold ``destination`` (an OS-level lock on a hidden file beside it) for the rest of this process,
    then remove the staging folders an interrupted command left there: while the lock is held, no live
    command can be writing them."""
    destination = Path(os.path.abspath(destination))
    if destination in _HELD:
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    path = lock_file(destination)
    while not _try_claim(destination, path):
        if WAIT_FOR_DESTINATION["wait"]:
            _wait_for_holder(path)
    _remove_stale_staging(destination)


def _try_claim(destination: Path, path: Path) -> bool:
    """Take the lock on ``path`` and register it in _HELD, or leave nothing behind: signals wait until
    the lock file this call may create is registered (release_destinations removes it) or closed."""
    with _interrupts_deferred():
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
        else:
            return _register_claim(destination, path, handle)
    if WAIT_FOR_DESTINATION["wait"]:
        return False
    # Named after the deferred block: reading the holder's line may take half a second, and this call has
    # nothing left to clean up if interrupted meanwhile.
    raise DestinationBusyError(
        f"{destination}: expected a destination no other command is writing; {_holder(path)} holds it "
        "(wait for it to finish, or add --wait to queue behind it)"
    )


def _register_claim(destination: Path, path: Path, handle: int) -> bool:
    """_try_claim once the lock on ``handle`` is taken, signals still deferred: record this command in the
    lock file and in _HELD, or close the handle if the file it locked is no longer at the path."""
    # The holder removes the lock file before it lets go: a lock taken on a file that is no longer
    # at the path is no lock at all, so take it again on the file that is there now.
    try:
        current = os.path.samestat(os.fstat(handle), os.stat(path))
    except FileNotFoundError:
        current = False
    if not current:
        os.close(handle)
        return False
    since = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    info = {"pid": os.getpid(), "since": since, "command": " ".join(["nelm-sim", *sys.argv[1:]])}
    os.ftruncate(handle, 0)
    os.write(handle, (json.dumps(info) + "\n").encode("utf-8"))
    _HELD[destination] = handle
    return True


def _wait_for_holder(path: Path) -> None:
    """Block until the command holding ``path`` lets go (--wait), interruptible: the lock file is the
    holder's, opened without creating it, so that an interruption here leaves nothing behind."""
    try:
        handle = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return  # let go already
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    finally:
        os.close(handle)


def release_destinations() -> None:
    """Let go of every destination this process holds (the end of a command): the lock file is removed
    while still locked, so no other command can hold a lock on a file that is no longer there."""
    with _interrupts_deferred():
        for destination, handle in list(_HELD.items()):
            path = lock_file(destination)
            with suppress(OSError):
                if os.path.samestat(os.fstat(handle), os.stat(path)):
                    os.unlink(path)
            os.close(handle)
            del _HELD[destination]


atexit.register(release_destinations)


def _ours(folder: Path) -> bool:
    return (folder / OUTPUT_MARKER).is_file() or (folder / "old" / OUTPUT_MARKER).is_file() or not any(folder.iterdir())


def _remove_stale_staging(destination: Path) -> None:
    stale = [
        folder
        for pattern in (f".{destination.name}.partial-*", f".{destination.name}.old-*")
        for folder in destination.parent.glob(pattern)
        if folder.is_dir() and _ours(folder)
    ]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    if stale:
        print(
            f"nelm-sim: removed {len(stale)} stale staging folder{'s' if len(stale) > 1 else ''} of {destination} "
            "left by an interrupted command",
            file=sys.stderr,
        )


def check_destination(destination: Path, force: bool) -> None:
    """Refuse, before any simulation, an output folder that cannot or must not be (re)placed; then hold it."""
    _check_destination(destination, force)
    claim_destination(destination)


def _check_names(destination: Path) -> None:
    """Refuse a path with a component longer than the file system allows, or an output folder name
    too long for its staging folder beside it, in one line (not an OSError after the work)."""
    absolute = Path(os.path.abspath(destination))
    for part in absolute.parts[1:-1]:
        if len(os.fsencode(part)) > NAME_MAX_BYTES:
            raise OutputExistsError(
                f"{destination}: expected folder names of at most {NAME_MAX_BYTES} bytes, got one of {len(os.fsencode(part))}"
            )
    size = len(os.fsencode(absolute.name))
    if size > MAX_OUTPUT_NAME_BYTES:
        raise OutputExistsError(
            f"{destination}: expected an output folder name of at most {MAX_OUTPUT_NAME_BYTES} bytes (its hidden staging folder"
            f" beside it needs {STAGING_NAME_EXTRA_BYTES} more of the {NAME_MAX_BYTES} a name may have), got {size}"
        )


def _check_destination(destination: Path, force: bool) -> None:
    _check_names(destination)
    if destination.exists() and not force:
        raise OutputExistsError(f"{destination}: expected a folder that does not exist yet (use --force to replace it)")
    if destination.exists() and not destination.is_dir():
        raise OutputExistsError(f"{destination}: expected a folder, found a file")
    if (
        destination.is_dir()
        and any(destination.iterdir())
        and not any((destination / n).is_file() for n in (OUTPUT_MARKER, "manifest.json"))
    ):
        # --force replaces whole folders: only ones this tool wrote (or empty ones), never e.g. `--out .`
        raise OutputExistsError(
            f"{destination}: expected an output folder of nelm-sim or an empty folder to replace with --force; it holds other files, left untouched"
        )
    ancestor = Path(os.path.abspath(destination)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputExistsError(f"{destination}: expected a path through folders; {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputExistsError(f"{destination}: expected a place where a folder can be written; {ancestor} is not writable")


# The output folders this command has put in place, whole: an interruption after that says so.
WRITTEN: list[Path] = []


@contextmanager
def atomic_folder(destination: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``destination`` in one rename."""
    destination = Path(os.path.abspath(destination))
    check_destination(destination, force)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A SIGINT/SIGTERM between creating the staging folder and entering the block that removes it
    # would leave it behind: signals wait (blocked, not lost) until the folder is owned by the try.
    staging: Path | None = None
    try:
        with _interrupts_deferred():
            staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
        # mkdtemp makes the folder private (0700); the output folder gets the permissions any folder the
        # user makes gets (their umask), e.g. group-readable by default.
        staging.chmod(0o777 & ~_umask())
        (staging / OUTPUT_MARKER).write_text("written by nelm-sim; `--force` may replace this folder\n", encoding="utf-8")
        yield staging
        # Checked again at the rename: a folder may have appeared there while this command was working.
        if destination.exists() and not force:
            raise OutputExistsError(
                f"{destination}: expected a folder that does not exist yet; one appeared while nelm-sim was writing and "
                "was left untouched (rerun with another --out)"
            )
        _check_destination(destination, force)
        if destination.exists():
            _replace_folder(destination, staging)
        else:
            try:
                os.rename(staging, destination)  # never replaces a folder that appeared since the check
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
                raise OutputExistsError(
                    f"{destination}: expected a folder that does not exist yet; one appeared while nelm-sim was writing and "
                    "was left untouched (rerun with another --out)"
                ) from None
        WRITTEN.append(destination)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise _named(exc, destination) from None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_folder(destination: Path, staging: Path) -> None:
    """Put ``staging`` in the place of the folder at ``destination`` (--force). Two renames, the old
    folder first moved into a hidden one beside it: a signal between them would leave the destination
    missing and the old output hidden (and later removed as stale), so signals wait until both are done."""
    retired: Path | None = None
    try:
        with _interrupts_deferred():
            retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
            os.replace(destination, retired / "old")
            try:
                os.replace(staging, destination)
            except OSError:
                os.replace(retired / "old", destination)  # the previous output back where it was
                raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the duration of the block (main thread): a signal that arrives
    meanwhile is recorded and its own handler runs as the block ends. A handler swap rather than a
    signal mask, because a process-directed signal is delivered through any thread that does not block
    it (numerical libraries start threads), and Python then runs the handler in the main thread anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda signum, frame: pending.append(signum)) for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in pending:
            handler = previous[number]
            if callable(handler):
                handler(number, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), number)


def _umask() -> int:
    current = os.umask(0)  # the only way to read it is to set it
    os.umask(current)
    return current


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def checkpoint_folder(destination: Path) -> Path:
    """Where a resumable run keeps its completed work: a hidden folder beside ``destination`` whose
    name depends only on it, so that `--resume` finds it again after any interruption."""
    destination = Path(os.path.abspath(destination))
    return destination.parent / f".{destination.name}.checkpoint"


def write_file_atomic(path: Path, text: str) -> None:
    """Write ``path`` so that it holds either its old content or all of ``text``, even after a kill -9
    or a power cut: a temporary file beside it, flushed and fsynced, then renamed over it."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(temporary)
        raise _named(exc, path) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


# How often a signal that arrived during an import or a finaliser looks again whether that has ended.
IMPORT_POLL_SECONDS = 0.005
# Code a KeyboardInterrupt must not land in: the import machinery (a module being imported, C extensions
# too, whose initialisation calls back into Python through it), and the start of a worker process, whose
# fork runs Python callbacks (os.register_at_fork) that ignore exceptions: the interruption was printed
# as "Exception ignored" and lost, and the command went on to the end.
_NOT_TO_INTERRUPT = ("importlib._bootstrap", "_frozen_importlib", "multiprocessing.popen_")
# Finalisers run wherever the garbage collector happens to start them, and Python also prints an
# exception raised inside one as "Exception ignored" and goes on: `__del__` methods, weakref.finalize,
# and the weakref callback by which Matplotlib forgets the listeners of a closed figure (seen losing a
# SIGINT while `scenarios` wrote its figures).
_FINALISERS = ("finalize.__call__", "CallbackRegistry._remove_proxy")


def _in_finaliser(code: CodeType) -> bool:
    return code.co_name == "__del__" or code.co_qualname in _FINALISERS


def _must_not_interrupt(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs below an import, a process start (_NOT_TO_INTERRUPT) or a finaliser."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_NOT_TO_INTERRUPT) or _in_finaliser(frame.f_code):
            return True
        frame = frame.f_back
    return False


class _InterruptLater:
    """A signal that arrived while the main thread was importing or finalising (_must_not_interrupt), sent
    to it again once that is over.

    KeyboardInterrupt raised inside an import leaves a half-initialised module behind, and a C
    extension reports it as `ImportError: initialization failed` instead of an interruption. So the
    signal waits, polled from a thread (the main thread may be blocked in a wait that only a signal
    sent to it ends)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._armed: int | None = None  # the signal waiting for the import to end

    def schedule(self, signum: int) -> None:
        with self._guard:
            if self._armed is not None:
                return
            self._armed = signum
        main = threading.main_thread()
        threading.Thread(target=self._resend_when_safe, args=(main.ident, signum), daemon=True).start()

    def _resend_when_safe(self, main_ident: int, signum: int) -> None:
        while True:
            time.sleep(IMPORT_POLL_SECONDS)
            with self._guard:
                if self._armed is None:
                    return
                if not _must_not_interrupt(sys._current_frames().get(main_ident)):
                    self._armed = None
                    signal.pthread_kill(main_ident, signum)
                    return

    def cancel(self) -> int | None:
        """Stop waiting; the signal that was still waiting, if any."""
        with self._guard:
            waiting, self._armed = self._armed, None
        return waiting


@contextmanager
def sigterm_as_interrupt(ignore_after: bool = False) -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so that `kill` stops a run as
    cleanly (workers shut down, staging folder removed, checkpoint kept); neither signal interrupts an
    import or a finaliser: it takes effect as that ends. Only the main thread can install a signal handler;
    elsewhere the block runs unchanged. ``ignore_after``: the block is the program's last work, and both
    signals are ignored once it ends instead of getting their previous handlers back (SIGTERM's default
    would kill a program that has already written its folder, by the signal, -15)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    later = _InterruptLater()

    last = [signal.SIGINT]

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        if _must_not_interrupt(frame):
            later.schedule(signum)
            return
        later.cancel()
        last[0] = signum
        raise KeyboardInterrupt

    # Any weakref callback or finaliser (not only those _FINALISERS names) swallows an exception raised
    # inside it and reports it here: the interruption is then sent again, to land once it has returned.
    previous_hook = sys.unraisablehook

    def _unraisable(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            later.schedule(last[0])
            return
        previous_hook(unraisable)

    # A signal the process was started with ignored (a background job's SIGINT) stays ignored.
    held = [number for number in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(number) != signal.SIG_IGN]
    previous = {number: signal.signal(number, _interrupt) for number in held}
    sys.unraisablehook = _unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        waiting = later.cancel()
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_IGN if ignore_after else handler)
        if waiting is not None and not ignore_after and callable(previous.get(waiting)):  # the block ended before the import did: not lost
            previous[waiting](waiting, None)
