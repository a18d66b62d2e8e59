"""--weights accepts paths, URLs (cached once) and public names; nothing is fetched unless asked."""

import pytest

from animegan_deploy.errors import UserError
from animegan_deploy.models import hub


def test_file_url_is_downloaded_into_the_cache_once(tmp_path, monkeypatch, tiny_checkpoint):
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))
    url = tiny_checkpoint.as_uri()
    first = hub.resolve_weights(url)
    assert first.parent.parent == tmp_path / "cache" / "checkpoints"
    assert first.read_bytes() == tiny_checkpoint.read_bytes()
    tiny_checkpoint_copy = first.read_bytes()
    first.write_bytes(tiny_checkpoint_copy)
    assert hub.resolve_weights(url) == first  # cached: no second download


def test_public_names_map_to_the_release_urls(monkeypatch):
    seen = []
    monkeypatch.setattr(hub, "download", lambda url: seen.append(url) or url)
    hub.resolve_weights("paprika")
    assert seen == ["https://github.com/bryandlee/animegan2-pytorch/raw/main/weights/paprika.pt"]


def test_unknown_path_names_the_argument_and_the_choices(tmp_path):
    with pytest.raises(UserError, match=r"--weights .*nope.pt: no such file.*face_paint_512_v2"):
        hub.resolve_weights(str(tmp_path / "nope.pt"))


def test_failed_download_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="download failed"):
        hub.resolve_weights((tmp_path / "absent.pt").as_uri())


def test_two_urls_with_one_file_name_are_two_cached_models(tmp_path, monkeypatch, tiny_checkpoint):
    """The cache is keyed by the full URL: a second model named like the first is fetched, not mixed up."""
    from conftest import randomized_generator
    from animegan_deploy.models.checkpoints import save_checkpoint

    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cache"))
    other = save_checkpoint(randomized_generator(seed=7), tmp_path / "b" / tiny_checkpoint.name)
    first, second = hub.resolve_weights(tiny_checkpoint.as_uri()), hub.resolve_weights(other.as_uri())
    assert first != second
    assert first.read_bytes() == tiny_checkpoint.read_bytes() and second.read_bytes() == other.read_bytes()


def test_a_cache_that_is_a_file_is_named(tmp_path, monkeypatch, tiny_checkpoint):
    (tmp_path / "cachefile").write_text("x")
    monkeypatch.setenv("ANIMEGAN_CACHE", str(tmp_path / "cachefile"))
    with pytest.raises(UserError, match="ANIMEGAN_CACHE"):
        hub.resolve_weights(tiny_checkpoint.as_uri())
    assert (tmp_path / "cachefile").read_text() == "x"
