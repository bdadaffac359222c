"""Find the QEMU binaries of this host and learn what each one supports (SPEC §6).

Each binary is asked once (``-version``, ``-machine help``, ``-accel help``,
``-display help``, ``-help``); the answers are parsed by pure functions into a frozen
``QemuCapabilities`` and cached by binary path + mtime + size (see ``capcache``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctys.errors import CommandError, VmError
from ctys.plugins.qemu.host.archname import arch_of_name as arch_of_name
from ctys.plugins.qemu.host.archname import host_arch as host_arch
from ctys.plugins.qemu.host.capcache import BinaryStamp, CapCache
from ctys.plugins.qemu.host.kvmprobe import KvmState, kvm_state
from ctys.runcmd import run_command

# Installs from source land under /opt/qemu; RHEL keeps qemu-kvm off PATH in /usr/libexec
# (which on Debian also holds the real binary behind a wrapper: so only qemu-kvm there).
EXTRA_DIRS = ("/opt/qemu/bin", "/opt/qemu/*/bin")
EXTRA_FILES = ("/usr/libexec/qemu-kvm",)
QUERY_TIMEOUT = 10.0

_BINARY_NAME = re.compile(r"^(qemu-system-[A-Za-z0-9_]+(-[A-Za-z0-9_.]+)?|qemu-kvm|kvm)$")
_VERSION = re.compile(r"QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?")
_OPTION = re.compile(r"^(-{1,2}[A-Za-z0-9][\w.-]*(?:/-{1,2}[A-Za-z0-9][\w.-]*)*)")
_OR_OPTION = re.compile(r"^\S+ or (-{1,2}[A-Za-z0-9][\w.-]*)")
# Package name for the hint when an arch has no binary (Debian/Ubuntu naming).
_PACKAGE_OF_ARCH = {
    "x86_64": "qemu-system-x86",
    "i386": "qemu-system-x86",
    "aarch64": "qemu-system-arm",
    "arm": "qemu-system-arm",
    "ppc64": "qemu-system-ppc",
    "ppc": "qemu-system-ppc",
    "riscv64": "qemu-system-misc",
    "s390x": "qemu-system-s390x",
    "mips64el": "qemu-system-mips",
}


@dataclass(frozen=True)
class QemuCapabilities:
    """What one QEMU binary supports, as read from its help output."""

    path: Path
    version: str  # "7.2.22"
    version_info: tuple[int, ...]  # (7, 2, 22)
    arch: str  # "x86_64", from the binary name
    variant: str  # "" for the plain binary, "microvm" for qemu-system-x86_64-microvm
    machines: tuple[str, ...]
    default_machine: str | None
    accelerators: frozenset[str]
    options: frozenset[str]  # top-level options of -help: "-qmp", "-vnc", ...
    displays: frozenset[str]

    def has_option(self, option: str) -> bool:
        """True when ``-help`` lists ``option`` (given with or without the leading dash)."""
        return ("-" + option.lstrip("-")) in self.options or option in self.options

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "version": self.version,
            "version_info": list(self.version_info),
            "arch": self.arch,
            "variant": self.variant,
            "machines": list(self.machines),
            "default_machine": self.default_machine,
            "accelerators": sorted(self.accelerators),
            "options": sorted(self.options),
            "displays": sorted(self.displays),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QemuCapabilities:
        """Rebuild from ``to_json`` output; KeyError/TypeError/ValueError on bad data."""
        default = data["default_machine"]
        return cls(
            path=Path(str(data["path"])),
            version=str(data["version"]),
            version_info=tuple(int(part) for part in data["version_info"]),
            arch=str(data["arch"]),
            variant=str(data["variant"]),
            machines=tuple(str(m) for m in data["machines"]),
            default_machine=None if default is None else str(default),
            accelerators=frozenset(str(a) for a in data["accelerators"]),
            options=frozenset(str(o) for o in data["options"]),
            displays=frozenset(str(d) for d in data["displays"]),
        )


@dataclass(frozen=True)
class HostCapabilities:
    """Every QEMU binary found on this host, and whether KVM works here."""

    binaries: tuple[QemuCapabilities, ...]
    kvm: KvmState


# ---------------------------------------------------------------- running a binary


def run_capture(argv: list[str], timeout: float = QUERY_TIMEOUT) -> str:
    """Run ``argv`` without a shell or stdin and return its stdout.

    Raises ``CommandError`` (with stderr) on a non-zero exit and ``VmError`` when the
    program cannot be started or does not finish within ``timeout`` seconds.
    """
    # Help texts are parsed: keep them English.
    env = {**os.environ, "LC_ALL": "C"}
    return run_command(argv, timeout=timeout, env=env, error=VmError)


# ---------------------------------------------------------------- parsers (pure)


def parse_version(text: str) -> tuple[str, tuple[int, ...]]:
    """``QEMU emulator version 7.2.22 (Debian ...)`` -> ``("7.2.22", (7, 2, 22))``."""
    match = _VERSION.search(text)
    if match is None:
        raise VmError(f"not a QEMU version banner: {text.strip()[:80]!r}")
    parts = tuple(int(group) for group in match.groups() if group is not None)
    return ".".join(str(part) for part in parts), parts


def _lines_after(text: str, header: str) -> list[str]:
    """The non-empty lines following the line that starts with ``header``."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith(header):
            return [item.strip() for item in lines[index + 1 :] if item.strip()]
    return []


def parse_machines(text: str) -> tuple[tuple[str, ...], str | None]:
    """``-machine help`` -> (machine names in listed order, the default machine or None)."""
    names: list[str] = []
    default: str | None = None
    for line in _lines_after(text, "Supported machines are"):
        name = line.split()[0]
        names.append(name)
        if line.endswith("(default)"):
            default = name
    return tuple(names), default


def parse_accelerators(text: str) -> frozenset[str]:
    """``-accel help`` -> {"tcg", "kvm", ...}."""
    return frozenset(
        line.split()[0] for line in _lines_after(text, "Accelerators supported in QEMU binary")
    )


def parse_displays(text: str) -> frozenset[str]:
    """``-display help`` -> {"none", "gtk", "sdl", "curses", ...}."""
    return frozenset(line.split()[0] for line in _lines_after(text, "Available display backend"))


def parse_options(text: str) -> frozenset[str]:
    """``-help`` -> the top-level options, e.g. {"-qmp", "-vnc", "-daemonize", ...}.

    Options start a line at column 0; ``-fda/-fdb`` names two, ``-h or -help`` two.
    """
    options: set[str] = set()
    for line in text.splitlines():
        match = _OPTION.match(line)
        if match is None:
            continue
        options.update(match.group(1).split("/"))
        alternative = _OR_OPTION.match(line)
        if alternative is not None:
            options.add(alternative.group(1))
    return frozenset(options)


# ---------------------------------------------------------------- finding and probing


def _candidates(search_path: str | None, extra_dirs: Sequence[str]) -> list[Path]:
    """Files that may be QEMU binaries, in search order."""
    path_var = os.environ.get("PATH", "") if search_path is None else search_path
    dirs = [Path(entry) for entry in path_var.split(os.pathsep) if entry]
    for pattern in extra_dirs:
        if "*" in pattern:
            dirs.extend(sorted(Path("/").glob(pattern.lstrip("/"))))
        else:
            dirs.append(Path(pattern))
    files: list[Path] = []
    for directory in dirs:
        try:
            files.extend(sorted(directory.iterdir()))
        except OSError:
            continue  # PATH entries that are missing or unreadable are normal
    if extra_dirs is EXTRA_DIRS:
        files.extend(Path(name) for name in EXTRA_FILES if Path(name).exists())
    return files


def find_qemu_binaries(
    search_path: str | None = None, extra_dirs: Sequence[str] = EXTRA_DIRS
) -> list[Path]:
    """Every executable ``qemu-system-*``, ``qemu-kvm`` and ``kvm`` on ``search_path``
    (default ``$PATH``) and in ``extra_dirs`` (globs; default /opt/qemu/bin and
    /opt/qemu/*/bin), resolved and deduplicated by real path, in search order."""
    found: list[Path] = []
    seen: set[Path] = set()
    for entry in _candidates(search_path, extra_dirs):
        if not _BINARY_NAME.match(entry.name) or not os.access(entry, os.X_OK):
            continue
        real = entry.resolve()
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        # A store-style target (".qemu-wrapped") loses the arch: keep the link's name then
        found.append(real if _BINARY_NAME.match(real.name) else entry)
    return found


def _optional_query(path: Path, *args: str) -> str:
    """Output of a query old or odd builds may not know (``-accel help``); "" when refused."""
    try:
        return run_capture([str(path), *args])
    except CommandError:
        return ""


def probe_binary(path: Path) -> QemuCapabilities:
    """Ask the binary at ``path`` what it supports (no cache; a handful of quick runs)."""
    version, version_info = parse_version(run_capture([str(path), "-version"]))
    machines, default_machine = parse_machines(run_capture([str(path), "-machine", "help"]))
    arch, variant = arch_of_name(path.name)
    return QemuCapabilities(
        path=path,
        version=version,
        version_info=version_info,
        arch=arch,
        variant=variant,
        machines=machines,
        default_machine=default_machine,
        accelerators=parse_accelerators(_optional_query(path, "-accel", "help")),
        options=parse_options(_optional_query(path, "-help")),
        displays=parse_displays(_optional_query(path, "-display", "help")),
    )


def cached_capabilities(path: Path, cache: CapCache, refresh: bool = False) -> QemuCapabilities:
    """``probe_binary`` through the cache: reuse the entry while the binary is unchanged."""
    try:
        stamp = BinaryStamp.of(path)
    except OSError as exc:
        raise VmError(f"cannot read {path}: {exc.strerror}") from exc
    if not refresh:
        payload = cache.get("caps", stamp)
        if payload is not None:
            try:
                return QemuCapabilities.from_json(payload)
            except (KeyError, TypeError, ValueError):
                pass  # an entry from an older layout: probe again
    caps = probe_binary(path)
    cache.put("caps", stamp, caps.to_json())
    return caps


def detect_host(refresh: bool = False, cache: CapCache | None = None) -> HostCapabilities:
    """All usable QEMU binaries of this host plus the KVM verdict (cached; ``refresh``
    re-probes everything). Binaries that fail to answer are left out."""
    cache = cache if cache is not None else CapCache()
    binaries = detect_binaries(refresh, cache)
    kvm_binary = _kvm_probe_binary(binaries)
    kvm = kvm_state(kvm_binary.path if kvm_binary else None, cache=cache, refresh=refresh)
    cache.save()
    return HostCapabilities(binaries=binaries, kvm=kvm)


def detect_binaries(
    refresh: bool = False, cache: CapCache | None = None
) -> tuple[QemuCapabilities, ...]:
    """All usable QEMU binaries of this host (cached by path+mtime), without the KVM probe."""
    own_cache = cache is None
    cache = cache if cache is not None else CapCache()
    binaries: list[QemuCapabilities] = []
    for path in find_qemu_binaries():
        try:
            binaries.append(cached_capabilities(path, cache, refresh))
        except (VmError, CommandError):
            continue  # a broken wrapper script must not hide the working binaries
    if own_cache:
        cache.save()
    return tuple(binaries)


def _kvm_probe_binary(binaries: Iterable[QemuCapabilities]) -> QemuCapabilities | None:
    """The binary to test KVM with: the host arch's plain binary that lists KVM."""
    candidates = [
        caps
        for caps in binaries
        if caps.arch == host_arch() and "kvm" in caps.accelerators and "q35" in caps.machines
    ]
    candidates.sort(key=lambda caps: caps.variant != "")
    return candidates[0] if candidates else None


def binary_for_arch(host: HostCapabilities, arch: str) -> QemuCapabilities:
    """The binary that runs guests of ``arch``: the plain ``qemu-system-<arch>`` first,
    then variants and qemu-kvm; newest version wins a tie. VmError when there is none."""
    matching = [caps for caps in host.binaries if caps.arch == arch]
    if not matching:
        package = _PACKAGE_OF_ARCH.get(arch, f"qemu-system-{arch}")
        raise VmError(f"no qemu-system-{arch} found; install {package}")
    matching.sort(
        key=lambda caps: (
            caps.variant != "",
            not caps.path.name.startswith("qemu-system-"),
            tuple(-part for part in caps.version_info),
        )
    )
    return matching[0]


def host_report(host: HostCapabilities) -> list[dict[str, str]]:
    """One row per binary for ``INFO``: binary, version, arch, accelerators, default
    machine and the KVM verdict (which applies to binaries listing kvm)."""
    verdict = ("usable" if host.kvm.usable else "unusable") + f": {host.kvm.reason}"
    if host.kvm.how:
        verdict += f" [{host.kvm.how}]"  # which probe, when, cached or fresh
    rows: list[dict[str, str]] = []
    for caps in host.binaries:
        rows.append(
            {
                "binary": str(caps.path),
                "version": caps.version,
                "arch": caps.arch + (f" ({caps.variant})" if caps.variant else ""),
                "accelerators": ",".join(sorted(caps.accelerators)),
                "default machine": caps.default_machine or "-",
                "kvm": verdict if "kvm" in caps.accelerators else "not supported by binary",
            }
        )
    return rows
