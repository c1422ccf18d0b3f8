"""The clone an update's new venv starts from (installer.lifecycle.venv_clone), on real files."""

from __future__ import annotations

import os
from pathlib import Path

from installer.lifecycle.venv_clone import clone_venv


def make_venv(root: Path) -> Path:
    venv = root / "venv-a"
    (venv / "bin").mkdir(parents=True)
    site = venv / "lib/python3/site-packages/pkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("VALUE = 1\n")
    (venv / "bin/python").symlink_to("/usr/bin/python3")
    (venv / "bin/python3").symlink_to("python")
    tool = venv / "bin/tool"
    tool.write_text(f"#!{venv}/bin/python\nimport pkg\n")
    tool.chmod(0o755)
    (venv / "bin/activate").write_text(f"VIRTUAL_ENV='{venv}'\nexport VIRTUAL_ENV\n")
    (venv / ".dinoair-verified.json").write_text('{"key": "old"}')
    (venv / ".dinoair-requirements.json").write_text('{"requirements_sha256": "x"}')
    return venv


def test_a_clone_links_packages_retargets_scripts_and_leaves_the_old_venv_alone(
    tmp_path: Path,
) -> None:
    old = make_venv(tmp_path)
    link = tmp_path / "venv"
    link.symlink_to(old.name)  # the venv in use is reached through the link, as after a swap
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file() and not p.is_symlink()}
    new = tmp_path / "venv-b"

    files = clone_venv(link, new)

    assert files == 4  # the package, two scripts, the requirements stamp; not verify's stamp
    package = "lib/python3/site-packages/pkg/__init__.py"
    assert os.stat(new / package).st_ino == os.stat(old / package).st_ino  # a hard link
    assert os.readlink(new / "bin/python") == "/usr/bin/python3"
    assert os.readlink(new / "bin/python3") == "python"
    assert (new / "bin/tool").read_text().startswith(f"#!{new}/bin/python\n")
    assert os.access(new / "bin/tool", os.X_OK)
    assert f"VIRTUAL_ENV='{new}'" in (new / "bin/activate").read_text()
    assert (new / ".dinoair-requirements.json").exists()
    assert not (new / ".dinoair-verified.json").exists()  # it vouched for the old commit only
    after = {p: p.read_bytes() for p in old.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before
