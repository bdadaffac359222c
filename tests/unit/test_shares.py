"""#@#SHARE<n>: the conf keys as typed shares, the transport each one gets, and the qemu
and virtiofsd command lines (pure functions; no daemon is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.errors import VmError
from ctys.plugins.qemu.shares.shareargv import (
    MEMORY_ID,
    HostShareTools,
    SharePlan,
    choose_transport,
    plan_shares,
    share_args,
    virtiofsd_argv,
)
from ctys.plugins.qemu.shares.shareconf import (
    MAX_TAG_BYTES,
    Share,
    Transport,
    parse_share,
    shares_for,
)
from support.launch import conf_vm, launch_argv, option_values

VIRTIOFSD = HostShareTools(Path("/usr/lib/qemu/virtiofsd"), Path("/usr/bin/unshare"), root=True)
NO_DAEMON = HostShareTools(None, Path("/usr/bin/unshare"), root=True)
RUN = Path("/run/ctys/vms/vm1-0123")


def _share(index: int = 0, tag: str = "data", **kw: object) -> Share:
    base: dict[str, object] = {"key": f"#@#SHARE{index}", "hostdir": Path("/srv/data")}
    base.update(kw)
    return Share(index=index, tag=tag, **base)  # type: ignore[arg-type]


# --- parsing -----------------------------------------------------------------------------


def test_a_share_is_hostdir_and_tag_rw_by_default(tmp_path: Path) -> None:
    share = parse_share("#@#SHARE1", 1, "/srv/data%data", tmp_path)
    assert share == Share(1, "#@#SHARE1", Path("/srv/data"), "data", False, None)


def test_options_ro_and_the_transport(tmp_path: Path) -> None:
    share = parse_share("#@#SHARE", 0, " /srv/x % src % RO % 9p ", tmp_path)
    assert (share.hostdir, share.tag, share.readonly) == (Path("/srv/x"), "src", True)
    assert share.transport is Transport.NINEP
    assert parse_share("#@#SHARE", 0, "/x%t%virtiofs%rw", tmp_path).transport is Transport.VIRTIOFS


def test_a_relative_folder_is_beside_the_conf_and_tilde_is_home(tmp_path: Path) -> None:
    assert parse_share("#@#SHARE", 0, "shared%t", tmp_path).hostdir == tmp_path / "shared"
    assert parse_share("#@#SHARE", 0, "~/x%t", tmp_path).hostdir == Path.home() / "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/srv/data", r"#@#SHARE2: expected HOSTDIR%TAG\[%ro\], got '/srv/data'"),
        ("%tag", r"#@#SHARE2: expected HOSTDIR%TAG"),
        ("/srv%", r"#@#SHARE2: expected HOSTDIR%TAG"),
        ("/srv%a,b", r"#@#SHARE2: tag 'a,b' is not a mount tag"),
        ("/srv%a=b", r"#@#SHARE2: tag 'a=b' is not a mount tag"),
        ("/srv%-x", r"#@#SHARE2: tag '-x' is not a mount tag"),
        ("/srv%" + "t" * (MAX_TAG_BYTES + 1), r"#@#SHARE2: tag 't+' is longer than 36 bytes"),
        ("/srv%t%rx", r"#@#SHARE2: unknown option 'rx' \(ro, rw, 9p, virtiofs\)"),
        ("/srv%t%ro%rw", r"#@#SHARE2: both ro and rw given"),
        ("/srv%t%9p%virtiofs", r"#@#SHARE2: both 9p and virtiofs given"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VmError, match=message):
        parse_share("#@#SHARE2", 2, text, tmp_path)


def test_a_tag_of_36_bytes_is_taken() -> None:
    assert parse_share("#@#SHARE", 0, "/x%" + "t" * 36, Path("/")).tag == "t" * 36


@given(st.text(min_size=1, max_size=60))
def test_every_tag_taken_is_one_safe_word(tag: str) -> None:
    """Whatever the conf says, a tag that passes cannot add a qemu option or a mount word."""
    try:
        share = parse_share("#@#SHARE", 0, f"/x%{tag}", Path("/"))
    except VmError:
        return
    assert share.tag == tag.strip()
    assert len(share.tag.encode()) <= MAX_TAG_BYTES
    assert not set(share.tag) & set(",= \t\n%\\/\"'")


def test_shares_for_reads_every_share_key_in_index_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    conf = "#@#SHARE3 = b%second%ro\n#@#SHARE = a%first\n#@#SHARED = not a share key\n"
    shares = shares_for(conf_vm(tmp_path / "vm1.conf", conf))
    assert [(s.index, s.key, s.hostdir, s.tag, s.readonly) for s in shares] == [
        (0, "#@#SHARE", (tmp_path / "a").resolve(), "first", False),
        (3, "#@#SHARE3", (tmp_path / "b").resolve(), "second", True),
    ]


def test_no_share_key_no_shares(tmp_path: Path) -> None:
    assert shares_for(conf_vm(tmp_path / "vm1.conf", "#@#SHAREX = y\n")) == ()


def test_a_missing_folder_names_the_conf_and_the_key(tmp_path: Path) -> None:
    vm = conf_vm(tmp_path / "vm1.conf", "#@#SHARE1 = nothere%t\n")
    with pytest.raises(VmError, match=r"vm1\.conf: #@#SHARE1: host folder .*nothere does not"):
        shares_for(vm)


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(VmError, match=r"#@#SHARE1: .*f is not a folder"):
        shares_for(conf_vm(tmp_path / "vm1.conf", "#@#SHARE1 = f%t\n"))


def test_one_tag_twice_and_one_index_twice_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VmError, match=r"#@#SHARE1: tag 't' is used by #@#SHARE0 too"):
        shares_for(conf_vm(tmp_path / "vm1.conf", "#@#SHARE0 = .%t\n#@#SHARE1 = .%t\n"))
    with pytest.raises(VmError, match=r"share 0 is given twice"):
        shares_for(conf_vm(tmp_path / "vm1.conf", "#@#SHARE = .%a\n#@#SHARE0 = .%b\n"))
    with pytest.raises(VmError, match=r"#@#SHARE16: at most 16 shares"):
        shares_for(conf_vm(tmp_path / "vm1.conf", "#@#SHARE16 = .%a\n"))


# --- the transport -----------------------------------------------------------------------


def test_virtiofs_when_the_host_can_else_9p() -> None:
    assert choose_transport(_share(), VIRTIOFSD) is Transport.VIRTIOFS
    assert choose_transport(_share(), NO_DAEMON) is Transport.NINEP
    not_root = HostShareTools(VIRTIOFSD.virtiofsd, VIRTIOFSD.unshare, root=False)
    assert choose_transport(_share(), not_root) is Transport.NINEP
    no_unshare = HostShareTools(VIRTIOFSD.virtiofsd, None, root=True)
    assert choose_transport(_share(readonly=True), no_unshare) is Transport.NINEP
    assert choose_transport(_share(readonly=False), no_unshare) is Transport.VIRTIOFS


def test_the_share_option_beats_the_environment() -> None:
    assert choose_transport(_share(), VIRTIOFSD, "9p") is Transport.NINEP
    assert choose_transport(_share(transport=Transport.VIRTIOFS), VIRTIOFSD, "9p") is (
        Transport.VIRTIOFS
    )
    plans = plan_shares([_share()], VIRTIOFSD, {"CTYS_SHARE_TRANSPORT": "9P"})
    assert plans == (SharePlan(_share(), Transport.NINEP),)
    assert plan_shares([], None, {}) == ()


def test_virtiofs_asked_for_but_missing_says_why() -> None:
    with pytest.raises(VmError, match=r"#@#SHARE0: virtiofs asked for, but virtiofsd is not"):
        choose_transport(_share(transport=Transport.VIRTIOFS), NO_DAEMON)
    with pytest.raises(VmError, match=r"CTYS_SHARE_TRANSPORT='nfs': expected 9p or virtiofs"):
        choose_transport(_share(), VIRTIOFSD, "nfs")


# --- argv --------------------------------------------------------------------------------


def test_virtiofs_argv_memory_backend_socket_and_device() -> None:
    plans = [SharePlan(_share(0, "data"), Transport.VIRTIOFS),
             SharePlan(_share(2, "ro", readonly=True), Transport.VIRTIOFS)]  # fmt: skip
    assert share_args(plans, RUN, 1024) == [
        "-object", f"memory-backend-memfd,id={MEMORY_ID},size=1024M,share=on",
        "-numa", f"node,memdev={MEMORY_ID}",
        "-chardev", f"socket,id=fs0,path={RUN}/fs0.sock",
        "-device", "vhost-user-fs-pci,chardev=fs0,tag=data",
        "-chardev", f"socket,id=fs2,path={RUN}/fs2.sock",
        "-device", "vhost-user-fs-pci,chardev=fs2,tag=ro",
    ]  # fmt: skip


def test_9p_argv_has_no_memory_backend_and_readonly_on_for_ro() -> None:
    plans = [SharePlan(_share(0, "a", hostdir=Path("/srv/a,b")), Transport.NINEP),
             SharePlan(_share(1, "b", readonly=True), Transport.NINEP)]  # fmt: skip
    assert share_args(plans, RUN, 512) == [
        "-fsdev", "local,id=fsdev0,path=/srv/a,,b,security_model=none",
        "-device", "virtio-9p-pci,fsdev=fsdev0,mount_tag=a",
        "-fsdev", "local,id=fsdev1,path=/srv/data,security_model=none,readonly=on",
        "-device", "virtio-9p-pci,fsdev=fsdev1,mount_tag=b",
    ]  # fmt: skip
    assert share_args([], RUN, 512) == []


def test_the_daemon_argv_rw_and_ro() -> None:
    rw = virtiofsd_argv(_share(1, hostdir=Path("/srv/a,b\\c")), RUN, VIRTIOFSD, python="/py")
    assert rw == [
        "/usr/lib/qemu/virtiofsd", f"--socket-path={RUN}/fs1.sock",
        "-o", "source=/srv/a\\,b\\\\c", "-o", "cache=auto", "-o", "sandbox=namespace",
    ]  # fmt: skip
    ro = virtiofsd_argv(_share(1, readonly=True), RUN, VIRTIOFSD, python="/py")
    assert ro[:10] == [
        "/usr/bin/unshare", "--mount", "--propagation", "private", "--",
        "/py", "-m", "ctys.plugins.qemu.shares.romount", "/srv/data", "--",
    ]  # fmt: skip
    assert ro[10:] == [*rw[:3], "source=/srv/data", *rw[4:]]
    with pytest.raises(VmError, match="virtiofsd is not installed"):
        virtiofsd_argv(_share(), RUN, NO_DAEMON)


def test_build_argv_puts_the_shares_before_the_pass_through_args(tmp_path: Path) -> None:
    vm = conf_vm(tmp_path / "vm1.conf", "", memsize_mb=768, extra_args=("-usb",))
    plans = (SharePlan(_share(0, "data"), Transport.VIRTIOFS),)
    argv = launch_argv(vm, tmp_path, shares=plans)
    assert option_values(argv, "-object") == [
        f"memory-backend-memfd,id={MEMORY_ID},size=768M,share=on"
    ]
    assert option_values(argv, "-m") == ["768"]
    assert argv.index("vhost-user-fs-pci,chardev=fs0,tag=data") < argv.index("-usb")
    assert "-numa" not in launch_argv(vm, tmp_path)


def _qemu_options(text: str) -> list[str]:
    """Split a qemu option string as qemu does: ``,`` separates, ``,,`` is a comma."""
    return [part.replace("\0", ",") for part in text.replace(",,", "\0").split(",")]


@given(st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
               min_size=1, max_size=40))  # fmt: skip
def test_a_folder_path_stays_one_qemu_option_value(name: str) -> None:
    """Whatever the folder is called, it cannot add an fsdev option (``,readonly=off``)."""
    hostdir = Path("/srv") / name.replace("/", "_")
    share = _share(0, hostdir=hostdir, readonly=True)
    [fsdev] = [w for w in share_args([SharePlan(share, Transport.NINEP)], RUN, 512)
               if w.startswith("local,")]  # fmt: skip
    assert _qemu_options(fsdev) == [
        "local", "id=fsdev0", f"path={hostdir}", "security_model=none", "readonly=on",
    ]  # fmt: skip
