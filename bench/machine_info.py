"""Facts about the machine a benchmark ran on, printed next to its numbers by the compare scripts."""


def machine_load():
    """Load average and CPU pressure: the numbers are only as good as the machine was idle."""
    load = open("/proc/loadavg").read().split()[:3]
    try:
        pressure = open("/proc/pressure/cpu").readline().split()[1]
    except OSError:
        pressure = "n/a"
    return f"load average {' '.join(load)}, cpu pressure {pressure}"


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"
