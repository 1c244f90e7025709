"""systemd/install.sh into a throwaway root: a complete install, and idempotent."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "systemd" / "install.sh"


def _needs() -> None:
    if os.geteuid() != 0:
        pytest.skip("install.sh sets owners and edits passwd files: run the suite as root")
    for tool in ("useradd", "groupadd", "usermod", "systemctl", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _install(root: Path, *extra: str, password: str = "operator-pass\n") -> str:
    vending = Path(sys.executable).with_name("vending")
    result = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--no-pip",
                             "--vending", str(vending), *extra], input=password,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root``: kind, mode, owner, and content or link target."""
    found: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[rel] = ("file", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, digest)
    return found


@pytest.mark.timeout(180)
def test_install_twice_gives_the_same_root(tmp_path: Path) -> None:
    _needs()
    root = tmp_path / "pi"
    root.mkdir()
    first = _install(root, "--operator", "admin")
    after_first = snapshot(root)
    second = _install(root, "--operator", "admin")
    assert snapshot(root) == after_first
    assert "useradd" not in second and "usermod" not in second
    assert "an operator exists" in second and "created operator admin" in first

    passwd = (root / "etc/passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()].count("vending") == 1
    assert "/usr/sbin/nologin" in passwd
    group = (root / "etc/group").read_text().splitlines()
    for name in ("gpio", "dialout"):
        line = next(g for g in group if g.startswith(f"{name}:"))
        assert line.split(":")[3].split(",").count("vending") == 1
    units = root / "etc/systemd/system"
    assert (units / "multi-user.target.wants/vending.service").is_symlink()
    assert (units / "timers.target.wants/vending-backup.timer").is_symlink()
    config = root / "etc/vending/vending.toml"
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert (root / "opt/vending/controller/cli.py").exists()
    assert (root / "opt/vending/.venv/bin/python").exists()
    state = root / "var/lib/vending"
    assert oct(state.stat().st_mode & 0o777) == "0o750"
    with sqlite3.connect(state / "vending.db") as db:
        assert db.execute("SELECT username FROM users WHERE role = 'operator'").fetchall() == \
            [("admin",)]


@pytest.mark.timeout(60)
def test_config_edits_survive_a_reinstall_and_dry_run_changes_nothing(tmp_path: Path) -> None:
    _needs()
    root = tmp_path / "pi"
    root.mkdir()
    _install(root, "--operator", "admin")
    config = root / "etc/vending/vending.toml"
    config.write_text(config.read_text() + "\n# edited on site\n")
    before = snapshot(root)
    dry = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--dry-run", "--no-pip"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    assert snapshot(root) == before
    _install(root)
    assert config.read_text().endswith("# edited on site\n")
    assert snapshot(root) == before


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--root", str(tmp_path), "--frobnicate"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "--frobnicate" in result.stderr


def test_a_dry_run_shows_the_vending_owner_and_paths_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "pi"
    root.mkdir()
    dry = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--dry-run", "--no-pip"],
                         input="", capture_output=True, text=True, timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert "-o vending -g vending" in out and "-o 0 -g 0" not in out and "-g 0 " not in out
    headings = [line for line in out.splitlines() if line.startswith("== ") and "/" in line]
    assert len(headings) == 3
    for line in headings:  # every place named is under the root
        assert all(word.startswith(str(root)) for word in line.replace(",", "").split()
                   if word.startswith("/")), line
    hint = next(line for line in out.splitlines() if "no operator yet" in line)
    assert "sudo -u vending /opt/vending/.venv/bin/vending user add NAME --role operator " \
           "--db /var/lib/vending/vending.db" in hint
    assert f"whose / is {root}" in hint


@pytest.mark.timeout(120)
def test_only_the_code_is_copied_and_the_unit_verifies_as_its_comment_says(
        tmp_path: Path) -> None:
    _needs()
    src = tmp_path / "checkout"
    shutil.copytree(SCRIPT.parents[1], src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "state", "__pycache__", ".hypothesis", "*_cache", "build"))
    for junk in (".hypothesis/examples/x", "build/lib/x.py", ".venv/bin/python",
                 ".pytest_cache/v", ".mypy_cache/3.11/x", ".ruff_cache/x",
                 "controller/__pycache__/x.pyc", "state/vending.db", "venv/bin/x"):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("x")
    root = tmp_path / "pi"
    root.mkdir()
    vending = Path(sys.executable).with_name("vending")
    done = subprocess.run(["bash", str(src / "systemd/install.sh"), "--root", str(root),
                           "--no-pip", "--vending", str(vending)], input="",
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    app = root / "opt/vending"
    copied = {str(p.relative_to(app)) for p in app.rglob("*")
              if not str(p.relative_to(app)).startswith(".venv")}
    assert "controller/cli.py" in copied
    for junk in (".hypothesis", "build", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                 "controller/__pycache__", "state", "venv"):
        assert junk not in copied, junk

    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # the unit's own comment, with DIR the root; the venv has no packages (--no-pip)
    (app / ".venv/bin/vending").symlink_to(vending)
    unit = (root / "etc/systemd/system/vending.service").read_text()
    recipe = [line.lstrip("# ").rstrip("\\").strip() for line in unit.splitlines()
              if line.startswith("#   ") or line.startswith("#     ")]
    command = " ".join(recipe[1:]).replace("DIR", str(root)).replace(
        "/tmp/vending.service", str(tmp_path / "vending.service"))
    verify = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            timeout=60, check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), command + verify.stderr
