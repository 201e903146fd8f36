"""scripts/check_layers.py on small made-up trees: each rule fires on its case and on nothing
else, and the real tree's layering is what the script says (run by `make layers` and `make test`)."""
import importlib.util
import os
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "check_layers", os.path.join(HERE, "..", "..", "scripts", "check_layers.py"))
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return check_layers.check(str(tmp_path))


def test_down_and_same_folder_includes_pass(tmp_path):
    assert tree(tmp_path, {
        "core/util.h": "",
        "store/db.h": '#include "core/util.h"\n',
        "store/db.c": '#include "store/db.h"\n',
        "http/req.h": '#include "store/db.h"\n#include "app.h"\n',
        "app.h": '#include "store/db.h"\n',
        "api/x.c": '#include "http/req.h"\n',
        "main.c": '#include "api/x.h"\n',
    }) == []


def test_an_include_up_fails(tmp_path):
    assert tree(tmp_path, {
        "http/validate.h": "",
        "catalog/layout.h": '#include "http/validate.h"\n',
    }) == ["up: catalog/layout.h includes http/validate.h"]


def test_relative_and_bracketed_includes_count(tmp_path):
    assert tree(tmp_path, {
        "api/cached.h": "",
        "http/server.c": '#include "../api/cached.h"\n#include <api/cached.h>\n#include <string.h>\n',
    }) == ["up: http/server.c includes api/cached.h"] * 2


def test_one_layer_both_ways_fails_one_way_passes(tmp_path):
    files = {"pay/pay.h": "", "booking/booking.h": '#include "pay/pay.h"\n'}
    assert tree(tmp_path, files) == []
    files["pay/payments.h"] = '#include "booking/booking.h"\n'
    assert tree(tmp_path, files) == [
        "sideways both ways: booking/booking.h includes pay/pay.h; "
        "pay/payments.h includes booking/booking.h"]


def test_an_interface_that_knows_its_backend_fails(tmp_path):
    files = {
        "cache/cache.c": """\
            /* tix_cache_redis_create() in a comment is no use */
            tix_rc tix_cache_destroy(tix_cache *c)
            {
                return tix_cache_redis_create(c);
            }
            """,
        "cache/redis.c": """\
            tix_rc tix_cache_redis_create(tix_cache *c)
            {
                tix_cache_destroy(c);
                return TIX_OK;
            }
            """,
    }
    assert tree(tmp_path, files) == [
        "mutual: cache/cache.c uses tix_cache_redis_create of cache/redis.c; "
        "cache/redis.c uses tix_cache_destroy of cache/cache.c"]
    # the interface no longer names its backend (a factory does): one way, passes
    files["cache/cache.c"] = "tix_rc tix_cache_destroy(tix_cache *c)\n{\n    return TIX_OK;\n}\n"
    assert tree(tmp_path, files) == []


def test_a_unit_split_by_topic_with_its_private_header_is_one_module(tmp_path):
    whole = '#include "core/config_int.h"\nint tix_config_load(void)\n{\n    return tix_config_load_jobs();\n}\n' \
            "int tix_config_get(void)\n{\n    return 0;\n}\n"
    part = '#include "core/config_int.h"\nint tix_config_load_jobs(void)\n{\n    return tix_config_get();\n}\n'
    assert tree(tmp_path, {"core/config.c": whole, "core/config_jobs.c": part}) == []
    # without the shared private header they are two modules calling each other
    assert len(tree(tmp_path / "b", {"core/config.c": whole.split("\n", 1)[1],
                                     "core/config_jobs.c": part.split("\n", 1)[1]})) == 1
