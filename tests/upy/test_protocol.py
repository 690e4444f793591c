# The protocol core (topics, envelopes, commands, signatures, outbox, backoff) under the
# MicroPython unix port: the shared cases, so the HMAC is proven on the real interpreter.
import protocol_cases


def test_hmac_rfc4231_vectors():
    protocol_cases.check_hmac_rfc4231_vectors()


def test_equal_compares_whole_strings():
    protocol_cases.check_equal_compares_whole_strings()


def test_topics_build_and_parse():
    protocol_cases.check_topics_build_and_parse()


def test_topics_refuse_what_does_not_fit():
    protocol_cases.check_topics_refuse_what_does_not_fit()


def test_acl_lists():
    protocol_cases.check_acl_lists()


def test_envelope_encoding():
    protocol_cases.check_envelope_encoding()


def test_reporter_deadband_and_heartbeat():
    protocol_cases.check_reporter_deadband_and_heartbeat()


def test_diag_fields():
    protocol_cases.check_diag_fields()


def test_valid_commands_decode():
    protocol_cases.check_valid_commands_decode()


def test_bad_commands_refused():
    protocol_cases.check_bad_commands_refused()


def test_role_mismatch_refused():
    protocol_cases.check_role_mismatch_refused()


def test_command_id_for_error_acks():
    protocol_cases.check_command_id_for_error_acks()


def test_set_validates_against_the_config_schema():
    protocol_cases.check_set_validates_against_the_config_schema()


def test_signed_command_roundtrip():
    protocol_cases.check_signed_command_roundtrip()


def test_signed_command_refusals():
    protocol_cases.check_signed_command_refusals()


def test_unsigned_allowed_when_not_required():
    protocol_cases.check_unsigned_allowed_when_not_required()


def test_counter_document():
    protocol_cases.check_counter_document()


def test_outbox_fifo_and_drop_oldest():
    protocol_cases.check_outbox_fifo_and_drop_oldest()


def test_backoff_bounds_and_reset():
    protocol_cases.check_backoff_bounds_and_reset()
