"""Probes speak codes, fleetops speaks sentences: every reason code has a msgid, and probe errors carry codes."""
import pytest

from fleetops.domain import probe_reasons
from fleetops.domain.text import Msg
from fleetops.platform.i18n import translate
from probes import base, registry
from probes.snmp import SnmpTarget
from probes.vision import imaging, thumbnails


def test_every_reason_code_has_a_sentence_and_every_sentence_a_code():
    assert set(base.REASONS) == set(probe_reasons.REASON_MSGIDS)


def test_a_bad_snmp_config_is_a_value_error_with_a_code_and_a_chinese_sentence():
    with pytest.raises(ValueError) as err:
        SnmpTarget(key="K1", address="10.0.0.1", version="v2c", community="")
    assert err.value.code == "missing_community"
    msg = probe_reasons.error_msg(err.value)
    assert msg.render("en") == "SNMP v2c needs a community"
    assert translate(msg, "zh") == "SNMP v2c 需要团体名"


def test_an_unknown_probe_kind_names_the_known_ones():
    with pytest.raises(ValueError) as err:
        registry.get("telnet")
    assert err.value.code == "unknown_probe_kind" and "ping" in err.value.params["known"]


def test_image_and_photo_errors_carry_codes():
    with pytest.raises(imaging.ImageError) as err:
        imaging.decode_image(b"")
    assert err.value.code == "file_empty"
    with pytest.raises(thumbnails.PhotoError) as err:
        thumbnails.sniff(b"GIF89a....")
    assert err.value.code == "photo_type"
    assert isinstance(probe_reasons.error_msg(err.value), Msg)
    assert "JPEG" in translate(probe_reasons.error_msg(err.value), "zh")
