"""Topic filters (3.1.1, section 4.7): validity and matching with '+' and '#'."""


def valid_filter(flt: str) -> bool:
    """'+' only as a whole level, '#' only as the whole last level; never empty."""
    if not flt:
        return False
    levels = flt.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def matches(flt: str, topic: str) -> bool:
    """True if the topic name falls under the (valid) filter. A topic starting with '$' is
    not matched by a filter starting with a wildcard (4.7.2): '#' does not see $SYS."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    f_levels, t_levels = flt.split("/"), topic.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":  # also matches the parent level: "a/#" matches "a"
            return True
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)
