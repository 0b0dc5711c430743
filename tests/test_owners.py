"""fer_core.owners: who owns a visit's files, where they live, quotas and the visitor sweep."""

from __future__ import annotations

import os
import time

import pytest

from fer_core.errors import FerError
from fer_core.owners import (
    CAPTURES,
    LOCAL,
    MODELS,
    Account,
    QuotaError,
    Visit,
    check_quota,
    free_model_name,
    host_name,
    identify,
    is_loopback,
    space_for,
    sweep_visitors,
    visible_models,
)
from fer_core.settings import Settings


def settings(tmp_path, **kw) -> Settings:
    return Settings(models_dir=tmp_path / "models", capture_root=tmp_path / "captures",
                    owner_root=tmp_path / "owners", **kw)


HERE = Visit(remote_ip=None, host="127.0.0.1:8501")  # Streamlit reports no address for a loopback peer
NOWHERE = Visit()  # a script run with no request (AppTest)


def test_only_this_machines_own_browser_is_the_local_owner_in_auto_mode():
    for host in ("localhost:8501", "127.0.0.1:8501", "[::1]:8501", "LOCALHOST", "127.0.0.1"):
        assert identify("auto", Visit(remote_ip=None, host=host)) is LOCAL, host
    assert identify("auto", Visit(remote_ip="::1", host="localhost")) is LOCAL
    assert identify("auto", NOWHERE) is LOCAL
    assert identify("single", Visit(remote_ip="203.0.113.9", host="fer.example"), browser_token="t") is LOCAL


def test_a_visit_through_any_proxy_or_relay_is_private():
    visits = [
        Visit(remote_ip="203.0.113.9", host="localhost:8501"),  # over the network
        Visit(remote_ip=None, host="127.0.0.1:8501", forwarded=True),  # a proxy that says so
        Visit(remote_ip=None, host="fer.example"),  # nginx with only proxy_pass, Upgrade and Host
        Visit(remote_ip="127.0.0.2", host="fer.example:8443"),  # a TCP relay on loopback
        Visit(remote_ip="127.0.0.2", host="127.0.0.2:8501"),  # a relay reached by its address
        Visit(remote_ip=None, host="localhost.fer.example"),
    ]
    owners = [identify("auto", visit, browser_token=f"token-{i}") for i, visit in enumerate(visits)]
    assert all(o.kind == "visitor" for o in owners) and len({o.key for o in owners}) == len(owners)
    a = owners[0]
    assert identify("private", HERE, browser_token="token-0") == a  # same browser, same owner
    assert identify("private", HERE, browser_token="token-0").key != "token-0"  # the folder is not the token
    assert identify("private", HERE, browser_token="t", per_tab=True).label == "this tab"


def test_host_names_lose_their_port():
    assert host_name("[::1]:8501") == "[::1]" and host_name("Localhost:80") == "localhost"
    assert host_name("fer.example") == "fer.example" and host_name("::1") == "::1"


def test_a_signed_in_user_is_keyed_by_issuer_and_subject():
    ada = Account("https://accounts.example", "1234", "ada@example.org")
    one = identify("auto", HERE, account=ada, browser_token="x")
    two = identify("private", Visit(remote_ip="203.0.113.9", host="fer.example"), account=ada, browser_token="y")
    assert one == two and one.kind == "user" and one.label == "ada@example.org"
    bob = Account("https://accounts.example", "5678", "bob@example.org")
    assert identify("private", HERE, account=bob).key != one.key
    # the same subject (or the same e-mail) from another issuer is someone else
    assert identify("private", HERE, account=Account("https://evil.example", "1234", "ada@example.org")).key != one.key


def test_private_without_a_token_and_bad_modes_are_refused():
    with pytest.raises(FerError, match="no browser token"):
        identify("private", Visit(remote_ip="203.0.113.9", host="fer.example"))
    with pytest.raises(FerError, match="FER_OWNERS"):
        identify("public", HERE, browser_token="t")


def test_loopback_addresses():
    assert is_loopback("127.0.0.2") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("192.168.1.4") and not is_loopback("example.org") and not is_loopback("")


def test_spaces_keep_owners_apart(tmp_path):
    s = settings(tmp_path)
    local = space_for(LOCAL, s)
    assert local.captures == s.capture_root and local.models == local.shipped == s.models_dir
    a = space_for(identify("private", HERE, browser_token="a"), s)
    b = space_for(identify("private", HERE, browser_token="b"), s)
    assert a.captures != b.captures and a.models != b.models and a.shipped == b.shipped == s.models_dir
    for space in (a, b):
        assert space.captures.is_dir() and space.models.is_dir()
        assert space.captures.is_relative_to(s.owner_root)
    (a.models / "mine").mkdir()
    assert a.owns_model(a.models / "mine") and not b.owns_model(a.models / "mine")
    assert not a.owns_model(s.models_dir / "default")


def test_quota_refuses_with_one_line(tmp_path):
    s = settings(tmp_path, capture_quota_mb=1, model_quota_mb=0, owners_total_mb=0)
    space = space_for(identify("private", HERE, browser_token="a"), s)
    (space.captures / "happy").mkdir()
    (space.captures / "happy" / "a.jpg").write_bytes(b"x" * 700_000)
    check_quota(space, CAPTURES, adding=100_000, settings=s)
    with pytest.raises(QuotaError, match="1 MB") as err:
        check_quota(space, CAPTURES, adding=400_000, settings=s)
    assert "\n" not in str(err.value)
    check_quota(space, MODELS, adding=10**12, settings=s)  # 0: no limit


def test_local_model_quota_leaves_the_shipped_models_out(tmp_path):
    s = settings(tmp_path, model_quota_mb=1)
    for name, size in (("default", 5_000_000), ("mine", 300_000)):
        (s.models_dir / name).mkdir(parents=True)
        (s.models_dir / name / "model.keras").write_bytes(b"x" * size)
    space = space_for(LOCAL, s)
    check_quota(space, MODELS, settings=s)
    with pytest.raises(QuotaError):
        check_quota(space, MODELS, adding=800_000, settings=s)


def test_sweep_removes_stale_visitors_whole_and_keeps_users(tmp_path):
    s = settings(tmp_path, visitor_ttl_hours=1)
    stale, trained, fresh = (space_for(identify("private", HERE, browser_token=t), s) for t in ("s", "t", "f"))
    user = space_for(identify("private", HERE, account=Account("https://accounts.example", "1", "ada")), s)
    for space in (stale, trained, fresh, user):
        (space.captures / "happy").mkdir()
        (space.captures / "happy" / "a.jpg").write_bytes(b"x")
    (trained.models / "mine").mkdir()
    old = time.time() - 2 * 3600
    for space in (stale, trained, user):
        os.utime(space.captures.parent / ".last_seen", (old, old))
    removed = sweep_visitors(s)
    assert sorted(removed) == sorted([stale.captures.parent, trained.captures.parent])  # models and all
    assert not stale.captures.parent.exists() and not trained.captures.parent.exists()
    assert all((sp.captures / "happy" / "a.jpg").exists() for sp in (fresh, user))
    assert sweep_visitors(settings(tmp_path, visitor_ttl_hours=0), now=time.time() + 10**6) == []


def test_the_server_total_bounds_what_new_owners_can_add(tmp_path):
    """Each new cookie is a new owner with a fresh quota: the server's total for all of them still holds."""
    s = settings(tmp_path, capture_quota_mb=1, owners_total_mb=1)
    first = space_for(identify("private", HERE, browser_token="a"), s)
    (first.captures / "happy").mkdir()
    (first.captures / "happy" / "a.jpg").write_bytes(b"x" * 800_000)
    second = space_for(identify("private", HERE, browser_token="b"), s)
    check_quota(second, CAPTURES, adding=100_000, settings=s)
    with pytest.raises(QuotaError, match="this server's space") as err:
        check_quota(second, CAPTURES, adding=400_000, settings=s)  # within b's own 1 MB
    assert "\n" not in str(err.value) and str(tmp_path) not in str(err.value)
    check_quota(space_for(LOCAL, s), CAPTURES, adding=100_000, settings=s)  # the machine's own user: not theirs


def _model(folder, name):
    from fer_core.inference.card import ModelCard

    (folder / name).mkdir(parents=True)
    ModelCard(name=name, class_names=["happy", "sad"], input_size=(48, 48)).save(folder / name)


def test_each_owner_sees_the_shipped_models_and_only_their_own(tmp_path):
    s = settings(tmp_path)
    _model(s.models_dir, "default")
    a = space_for(identify("private", HERE, browser_token="a"), s)
    b = space_for(identify("private", HERE, browser_token="b"), s)
    _model(a.models, "mine")
    _model(a.models, "default")  # an own model never hides the shipped one of the same name
    assert [(m.name, m.path.parent) for m in visible_models(a)] == [("default", s.models_dir), ("mine", a.models)]
    assert [m.name for m in visible_models(b)] == ["default"]
    assert free_model_name(a) == "mine-2" and free_model_name(b) == "mine"
    assert free_model_name(b, "default") == "default-2"
    local = space_for(LOCAL, s)
    _model(s.models_dir, "mine")
    assert [m.name for m in visible_models(local)] == ["default", "mine"]
