# Ring 2: the sun clock, local time and the night profile on the real MicroPython interpreter.
from agent import astro, civil, profile
from agent.sched import TICKS_PERIOD, ticks_add

S2000 = 946684800  # 1970-epoch seconds of 2000-01-01 00:00 UTC
H = 3600000

# (lat, lon, date, sunrise, sunset) in minutes after 00:00 UTC of that date, from astral 3.2
# (time_of_transit, zenith 90.833 degrees, no extra refraction): see tests/core/test_astro.py.
CASES = [
    (52.37, 4.9, (2025, 6, 21), 198.049, 1206.48),  # Amsterdam, midsummer
    (-33.87, 151.21, (2026, 12, 21), -319.358, 545.427),  # Sydney: rises on the UTC day before
    (61.2, -149.9, (2027, 3, 20), 960.66, 1694.754),  # Anchorage: sets on the UTC day after
    (-17.7, 178.1, (2028, 9, 1), -345.241, 360.7),  # Fiji, by the date line
    (64.15, -21.94, (2030, 12, 21), 682.323, 929.414),  # Reykjavik, midwinter
]


def test_sun_times_match_astral_within_60_s():
    for lat, lon, ymd, rise, sett in CASES:
        kind, r, s = astro.sun_times(civil.days_from_civil(*ymd), lat, lon)
        assert kind == "normal", (ymd, kind)
        assert abs(r - rise) * 60 <= 60, (ymd, r, rise)
        assert abs(s - sett) * 60 <= 60, (ymd, s, sett)


def test_polar_kinds():
    june = civil.days_from_civil(2026, 6, 21)
    assert astro.sun_times(june, 78.22, 15.6) == ("polar_day", None, None)
    assert astro.sun_times(june, -78.22, 15.6) == ("polar_night", None, None)
    assert astro.sun_times(june, 90.0, 0.0)[0] == "polar_day"
    assert astro.sun_times(june, -90.0, 180.0)[0] == "polar_night"
    t = S2000 + june * 86400
    assert astro.is_night(t, 78.22, 15.6) is False
    assert astro.is_night(t, -78.22, 15.6) is True
    assert astro.nearest_event(t, 78.22, 15.6) == (None, None)


def test_is_night_and_nearest_event_in_amsterdam():
    lat, lon, ymd, rise, sett = CASES[0]
    midnight = S2000 + civil.days_from_civil(*ymd) * 86400
    r, s = midnight + int(rise * 60), midnight + int(sett * 60)
    assert astro.is_night(r - 120, lat, lon) and not astro.is_night(r + 120, lat, lon)
    assert not astro.is_night(s - 120, lat, lon) and astro.is_night(s + 120, lat, lon)
    assert not astro.is_night(s + 120, lat, lon, 15, -20)  # lamps on 15 min after sunset
    assert astro.is_night(midnight + 2 * 3600, lat, lon)
    name, when = astro.nearest_event(midnight + 2 * 3600, lat, lon)
    assert name == "sunrise" and abs(when - r) <= 60
    assert astro.near_twilight(s + 600, lat, lon, 15)
    assert not astro.near_twilight(midnight + 12 * 3600, lat, lon, 90)


def test_is_night_by_the_date_line():
    lat, lon, ymd, rise, sett = CASES[3]  # Fiji: sunrise is on the previous UTC date
    midnight = S2000 + civil.days_from_civil(*ymd) * 86400
    assert astro.is_night(midnight + int(rise * 60) - 120, lat, lon)
    assert not astro.is_night(midnight + int(rise * 60) + 120, lat, lon)
    assert not astro.is_night(midnight, lat, lon)  # local noon
    assert astro.is_night(midnight + int(sett * 60) + 120, lat, lon)


def test_civil_and_summer_time():
    assert civil.days_from_civil(2000, 1, 1) == 0
    n = civil.days_from_civil(2024, 2, 29)
    assert civil.civil_from_days(n) == (2024, 2, 29) and civil.weekday(n) == 3
    assert civil.split_utc(S2000 + 86400 + 5) == (1, 5)
    eu_on = S2000 + civil.days_from_civil(2025, 3, 30) * 86400 + 3600
    assert civil.local_offset_min(eu_on - 1, 60, "eu") == 60
    assert civil.local_offset_min(eu_on, 60, "eu") == 120
    assert civil.local_minute(eu_on, 60, "eu") == 180
    us_off = S2000 + civil.days_from_civil(2025, 11, 2) * 86400 + 6 * 3600
    assert civil.local_offset_min(us_off - 1, -300, "us") == -240
    assert civil.local_offset_min(us_off, -300, "us") == -300


def test_level_at_and_in_window():
    steps = [["22:00", 60], ["05:00", 60], ["17:00", 100], ["00:00", 40]]
    assert profile.level_at(steps, 17 * 60 + 30) == 100
    assert profile.level_at(steps, 23 * 60) == 60
    assert profile.level_at(steps, 3 * 60) == 40
    assert profile.level_at([["18:00", 100], ["23:30", 50]], 60) == 50
    assert civil.in_window(0, 23 * 60, 5 * 60) and not civil.in_window(6 * 60, 23 * 60, 5 * 60)
    assert profile.solar_midnight_local(4.9, 60) == 40


def test_virtual_midnight_across_tick_wrap():
    vm = profile.VirtualMidnight(40)
    start = TICKS_PERIOD - 3 * H  # the counter wraps during the first night
    assert vm.local_minute(start) is None
    # Ticks from local 12:00; nights of 8 to 16 h centred on local 00:40, a few minutes off.
    for day, (hours, jitter_min) in enumerate(((9, 7), (15, -8), (2, 0), (12, 3), (20, 0))):
        mid = (day * 24 + 12) * H + (40 + jitter_min) * 60000
        on = ticks_add(start, (mid - hours * H // 2) % TICKS_PERIOD)
        vm.switched_on(on)
        vm.switched_off(ticks_add(on, hours * H))
        now = (day * 24 + 12 + 9) * H  # 09:00 local the next morning
        got = vm.local_minute(ticks_add(start, now % TICKS_PERIOD))
        assert got is not None and abs(got - 9 * 60) <= 20, (day, got)
    assert vm.nights == 3  # the 2 h and 20 h nights were ignored
