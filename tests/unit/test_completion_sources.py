"""Where completion finds names: ssh's files, the host group folders, the inventory
(read-only) and the file system (``ctys.completion.sources``, ``live.path_candidates``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctys.completion import sources
from ctys.completion.live import LiveSources, path_candidates
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory


def test_ssh_config_hosts_without_patterns() -> None:
    text = "Host alpha beta\n  HostName 10.0.0.1\nHost *.lab gamma?\nhost=delta\nMatch host x\n"
    assert sources.ssh_config_hosts(text) == ["alpha", "beta", "delta"]


def test_known_hosts_plain_names_only() -> None:
    text = (
        "alpha,10.0.0.1 ssh-ed25519 AAAA\n"
        "|1|abc=|def= ssh-rsa AAAA\n"
        "[beta]:2222 ssh-ed25519 AAAA\n"
        "@revoked gamma ssh-rsa AAAA\n"
        "# comment\n"
        "*.wild ssh-rsa AAAA\n"
    )
    assert sources.known_hosts_names(text) == ["alpha", "10.0.0.1"]


def test_ssh_hosts_merge_both_files(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host web db\n")
    (tmp_path / ".ssh" / "known_hosts").write_text("db ssh-rsa AAAA\nmail ssh-rsa AAAA\n")
    assert sources.ssh_hosts(tmp_path) == ["db", "mail", "web"]
    assert sources.ssh_hosts(tmp_path / "nobody") == []


def test_group_names_from_home_and_groups_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    home_groups = tmp_path / ".ctys" / "groups"
    (home_groups / "lab").mkdir(parents=True)
    (home_groups / "all").write_text("a b\n")
    (home_groups / "lab" / "rack1").write_text("c\n")
    (home_groups / ".hidden").write_text("x\n")
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "office").write_text("d\n")
    monkeypatch.setenv("CTYS_GROUPS_PATH", f"{extra}:{tmp_path / 'missing'}")
    assert sources.group_names() == ["all", "lab/rack1", "office"]


def test_labels_from_the_inventory_read_only(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inv:
        inv.add(
            InventoryRecord(host="h", label=label, pname=f"/v/{label}.conf", uuid=label)
            for label in ("web", "db", "web", "")
        )
    path.chmod(0o444)
    os.utime(path, (1, 1))
    assert sources.inventory_labels(path) == ["db", "web"]
    assert path.stat().st_mtime == 1  # never written
    assert sources.inventory_labels(tmp_path / "none.sqlite") == []
    (tmp_path / "bad.sqlite").write_text("not a database")
    assert sources.inventory_labels(tmp_path / "bad.sqlite") == []


def test_the_inventory_of_the_command_line_gives_the_labels(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with Inventory.open(path) as inv:
        inv.add([InventoryRecord(host="h", label="other", pname="/v/o.conf", uuid="u")])
    assert LiveSources.for_words(["--inventory", str(path)]).labels() == ["other"]
    assert LiveSources.for_words([f"--inventory={path}", "-a"]).labels() == ["other"]
    assert LiveSources.for_words(["--inventory", str(tmp_path / "none")]).labels() == []


def test_path_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vms").mkdir()
    (tmp_path / "vm.iso").write_text("")
    (tmp_path / ".secret").write_text("")
    assert path_candidates(f"{tmp_path}/v") == [f"{tmp_path}/vm.iso", f"{tmp_path}/vms/"]
    assert path_candidates(f"{tmp_path}/") == [f"{tmp_path}/vm.iso", f"{tmp_path}/vms/"]
    assert path_candidates(f"{tmp_path}/.") == [f"{tmp_path}/.secret"]
    monkeypatch.chdir(tmp_path)
    assert path_candidates("vm") == ["vm.iso", "vms/"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert path_candidates("~/vms") == ["~/vms/"]
    assert path_candidates("/no/such/dir/x") == []
