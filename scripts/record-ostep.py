#!/usr/bin/env python3
"""Records the outputs of OSTEP's homework scripts for vmlab's `ostep` test.

Usage: python3 scripts/record-ostep.py OSTEP_HOMEWORK_DIR
(a checkout of remzi-arpacidusseau/ostep-homework; docs/ostep.md names the
commit). Runs every case below with python3, with COLUMNS=80 unless the case
says otherwise and the repository root as the working directory, and writes
test/ostep/SCRIPT.txt: for each case a header line

    $ {"script": ..., "args": [...], "columns": "80"}
    ? exit N

then the standard output, every line prefixed "| " (a last line without a
newline ends in a line "\\ no newline"), then standard error prefixed "! ",
except that a traceback is recorded as its last line alone, prefixed
"!traceback ". A case the Python does not finish in 10 seconds (it would
loop forever) is left out. src/analysis/ostep/ostep.test.ts reads these files.
"""
import json
import random
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = {
    "relocation": "vm-mechanism/relocation.py",
    "segmentation": "vm-segmentation/segmentation.py",
    "paging-linear-translate": "vm-paging/paging-linear-translate.py",
    "paging-multilevel-translate": "vm-smalltables/paging-multilevel-translate.py",
    "paging-policy": "vm-beyondphys-policy/paging-policy.py",
}

# flag spellings every script shares (optparse's own rules)
OPTPARSE = [
    ["-h"], ["--help"], ["--he"], ["-x"], ["--bogus"], ["-s"], ["-s", "abc"], ["-s", "0x1f"], ["-s", "017"],
    ["-s", "0b101"], ["-s", "-5"], ["-s", "1_000"], ["-s", "123456789012345678901234567890"], ["-s", "08"],
    ["-s", " 7"], ["-s", "0x"], ["-s", "0b"], ["-s7"], ["--seed=3"], ["--seed", "3"], ["--se", "3"],
    ["-s", "4", "--", "-c"], ["-s", "4", "extra", "args"], ["-c", "-s", "-c"], ["-cs", "5"], ["-cs5"], ["-c=1"],
    ["-s", "-"], ["-", "-s", "2"], ["-s", "\u0661\u0662"], ["--a", "5"], ["--compute=1"], ["--seed"], ["--=3"],
    ["--s=2", "--c"],
]
HELP_COLUMNS = ["20", "40", "60", "100", "200", "abc", ""]


def seeds(n, extra=()):
    out = []
    for s in range(n):
        out.append(["-s", str(s)])
        out.append(["-s", str(s), "-c"])
    return out + [list(e) for e in extra]


CASES = {
    "relocation": seeds(40) + [
        ["-s", "3", "-c", "-n", "20"], ["-c", "-n", "0"], ["-c", "-n", "-3"], ["-s", "9", "-a", "16", "-p", "64", "-c"],
        ["-s", "2", "-a", "64k", "-p", "1m", "-c", "-n", "8"], ["-s", "5", "-a", "32m", "-p", "1g", "-c"],
        ["-s", "6", "-a", "1K", "-p", "16K", "-c"], ["-s", "7", "-a", "1M", "-p", "1G", "-c"],
        ["-s", "1", "-b", "100", "-l", "200", "-c"], ["-s", "1", "-b", "16000", "-l", "1000", "-c"],
        ["-s", "1", "-b", "0", "-c"], ["-s", "1", "-l", "1k", "-c"], ["-s", "1", "-l", "0", "-c"],
        ["-s", "4", "-l", "100", "-c", "-n", "12"], ["-p", "1"], ["-p", "0"], ["-a", "0"], ["-a", "16k"],
        ["-a", "32k", "-p", "16k"], ["-a", "12x"], ["-a", ""], ["-p", "k"], ["-b", "x1"], ["-a", " 1_0k", "-c"],
        ["-a", "-1k", "-c"], ["-a", "1g", "-p", "2g", "-c", "-n", "3"], ["-s", "11", "--compute", "--addresses=7"],
        ["-s", "3", "-a", "100", "-p", "1000", "-c"], ["-s", "1", "-b", "16383", "-l", "1", "-c"],
    ],
    "segmentation": seeds(40) + [
        ["-s", "3", "-c", "-n", "20"], ["-c", "-n", "0"], ["-s", "1", "-A", "0,100,511,512,1000,1023", "-c"],
        ["-s", "1", "-A", "0,100,511,512,1000,1023"], ["-s", "1", "-A", "1024", "-c"], ["-s", "1", "-A", "-1,5", "-c"],
        ["-s", "1", "-A", "5,-2", "-c"], ["-s", "1", "-A", "5,x", "-c"], ["-s", "1", "-A", "5, 6 ,7", "-c"],
        ["-s", "1", "-A", "", "-c"], ["-a", "128", "-p", "512", "-b", "0", "-l", "20", "-B", "512", "-L", "20", "-s", "0", "-c"],
        ["-a", "128", "-p", "512", "-b", "0", "-l", "20", "-B", "512", "-L", "20", "-s", "1", "-c"],
        ["-a", "128", "-p", "512", "-b", "0", "-l", "20", "-B", "512", "-L", "20", "-A", "0,19,20,107,108,127", "-c"],
        ["-a", "16", "-p", "128", "-A", "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", "-b", "0", "-l", "4", "-B", "16", "-L", "4", "-c"],
        ["-b", "100", "-l", "600", "-B", "2000", "-L", "100", "-c"], ["-b", "100", "-l", "100", "-B", "150", "-L", "100", "-c"],
        ["-b", "16380", "-l", "100", "-B", "2000", "-L", "100", "-c"], ["-b", "100", "-l", "100", "-B", "20000", "-L", "100", "-c"],
        ["-a", "1k", "-p", "2k"], ["-a", "1k", "-p", "2k", "-b", "0", "-B", "2047", "-c"], ["-p", "4"], ["-a", "0"],
        ["-a", "2k", "-p", "1k"], ["-a", "64k", "-p", "1m", "-s", "2", "-c"], ["-a", "1m", "-p", "512m", "-s", "4", "-c", "-n", "10"],
        ["-s", "5", "-l", "300", "-L", "300", "-c"], ["-s", "5", "-l", "0", "-L", "0", "-c"],
        ["-s", "12", "--b0=10", "--l0=20", "--numaddrs", "7", "-c"], ["-a", "x"],
    ],
    "paging-linear-translate": seeds(30) + [
        ["-s", "1", "-v", "-c"], ["-s", "2", "-v"], ["-s", "3", "-u", "0", "-c"], ["-s", "3", "-u", "100", "-c"],
        ["-s", "4", "-u", "25", "-c", "-v"], ["-s", "5", "-P", "1k", "-c"], ["-s", "6", "-P", "2k", "-a", "32k", "-p", "128k", "-c"],
        ["-s", "7", "-P", "8k", "-c"], ["-s", "8", "-P", "16k", "-c"], ["-s", "9", "-a", "1m", "-p", "512m", "-P", "64k", "-c"],
        ["-s", "10", "-a", "32k", "-p", "64k", "-c", "-n", "12"], ["-s", "1", "-A", "0,4095,4096,8191,16383", "-c"],
        ["-s", "1", "-A", "0,4095,4096,8191,16383"], ["-s", "1", "-A", "16384", "-c"], ["-s", "1", "-A", "-5", "-c"],
        ["-s", "1", "-A", "-5"], ["-s", "1", "-A", "3,y", "-c"], ["-a", "12k", "-p", "48k"], ["-P", "3k"], ["-P", "0"],
        ["-P", "-4k"], ["-a", "1g", "-p", "2g"], ["-a", "16k", "-p", "16k"], ["-a", "0"], ["-p", "1"],
        ["-a", "16k", "-p", "40k"], ["-s", "2", "-a", "16", "-p", "64", "-P", "4", "-c", "-v"],
        ["-s", "3", "-a", "2", "-p", "4", "-P", "1", "-c", "-v"], ["-s", "11", "-n", "0", "-c"],
        ["-s", "12", "-a", "64k", "-p", "256m", "-P", "4k", "-u", "10", "-c", "-n", "15"],
    ],
    # each case prints a 4 KiB memory dump: fewer seeds keep the file small
    "paging-multilevel-translate": seeds(20) + [
        ["-s", "1", "-a", "0", "-c"], ["-s", "1", "-a", "1", "-c"], ["-s", "2", "-a", "10", "-c", "-n", "20"],
        ["-s", "3", "-a", "100", "-c"], ["-s", "4", "-a", "110", "-c"], ["-s", "5", "-a", "127"], ["-s", "5", "-a", "200"],
        ["-s", "6", "-a", "-5", "-c"], ["-s", "7", "-n", "0", "-c"], ["-s", "8", "-n", "40", "-c"], ["-s", "9", "-n", "-1"],
        ["-s", "10", "--allocated=32", "--addresses", "16", "--solve"], ["-s", "123456789", "-c"], ["-s", "-1", "-c"],
    ],
    "paging-policy": [],
}

policy = CASES["paging-policy"]
for p in ["FIFO", "LRU", "MRU", "OPT", "UNOPT", "RAND", "CLOCK"]:
    for s in range(10):
        policy.append(["-s", str(s), "-p", p, "-c"])
    policy += [
        ["-s", "3", "-p", p], ["-s", "4", "-p", p, "-c", "-n", "30", "-m", "8", "-C", "4"],
        ["-s", "5", "-p", p, "-c", "-n", "50", "-m", "20", "-C", "5", "-N"], ["-s", "6", "-p", p, "-c", "-C", "1"],
        ["-s", "7", "-p", p, "-c", "-C", "0"], ["-s", "8", "-p", p, "-c", "-C", "-1", "-n", "12"],
        ["-p", p, "-c", "-a", "1,2,3,4,1,2,5,1,2,3,4,5", "-C", "3"], ["-p", p, "-c", "-a", "1,2,3,4,1,2,5,1,2,3,4,5", "-C", "4"],
        ["-p", p, "-c", "-a", "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1", "-C", "3"],
        ["-p", p, "-c", "-a", "1,2,3,x,4,1"], ["-p", p, "-c", "-a", "1,2,3,4,5,x,1,2", "-C", "2"],
        ["-p", p, "-c", "-a", "1,2,1,3,2,4,x,1"], ["-p", p, "-c", "-f", "test/ostep/refs.txt", "-C", "4"],
        ["-s", "9", "-p", p, "-c", "-n", "200", "-m", "30", "-C", "10", "-N"],
    ]
for b in ["0", "1", "3", "-1"]:
    policy += [["-s", "2", "-p", "CLOCK", "-c", "-b", b, "-n", "40", "-m", "7"]]
policy += [
    ["-c", "-n", "0"], ["-n", "0"], ["-c", "-n", "-2"], ["-c", "-m", "-5"], ["-c", "-m", "0"], ["-p", "BOGUS", "-c"],
    ["-p", "BOGUS"], ["-p", "lru", "-c"], ["-s", "x"], ["-s", "0x10"], ["-s", "-3", "-c"], ["-s", " 42 ", "-c"],
    ["-n", "x"], ["-C", "x"], ["-m", "1.5"], ["-b", "x"], ["-c", "-a", "5,-1,5,3, 2"], ["-a", "1,,2"],
    ["-a", "1,2,3"], ["-c", "-f", "test/ostep/no-such-file"], ["-c", "-f", "test/ostep"],
    ["-c", "-f", "test/ostep/refs-blank.txt"], ["-c", "-N", "-a", "1,2,3,1"], ["--policy=LRU", "--compute", "--numaddrs=15"],
    ["-c", "-p", "OPT", "-a", "1,2,3,4,5,6,7,8,9,10", "-C", "3"], ["-c", "-p", "UNOPT", "-a", "1,2,3,4,1,2,3,4", "-C", "2"],
    ["-c", "-p", "OPT", "-C", "800", "-n", "1000", "-m", "900", "-s", "3", "-N"],
    ["-c", "-p", "FIFO", "-C", "7", "-n", "800", "-m", "8", "-s", "1", "-N"],
]

# random combinations of every flag, odd spellings included (fixed seed: the same list on every run);
# a combination the Python never finishes (a segment no base can place) is left out
R = random.Random(11)


def r_num():
    return R.choice([str(R.randint(-20, 40)), str(R.randint(0, 3000)), "0x%x" % R.randint(0, 300),
                     "0%o" % R.randint(0, 300), " %d" % R.randint(0, 50), "-0", "1_0", ""])


def r_count():
    return R.choice([str(R.randint(-3, 40)), "0x%x" % R.randint(0, 40), "0%o" % R.randint(0, 40), " 7", "1_0", ""])


def r_size():
    return R.choice(["16", "64", "1k", "4k", "16k", "32k", "64k", "1m", "2k", "8k", "-1k", "0", "3",
                     str(R.randint(1, 5000)), "%dk" % R.randint(0, 70), "1K", "2M"])


def r_list():
    return ",".join(r_num() for _ in range(R.randint(1, 25)))


MIXED_FLAGS = {
    "relocation": [("-a", r_size), ("-p", r_size), ("-n", r_count), ("-b", r_size), ("-l", r_size)],
    "segmentation": [("-a", r_size), ("-p", r_size), ("-n", r_count), ("-b", r_size), ("-l", r_size),
                     ("-B", r_size), ("-L", r_size), ("-A", r_list)],
    "paging-linear-translate": [("-a", r_size), ("-p", r_size), ("-P", r_size), ("-u", r_num), ("-n", r_count),
                                ("-A", r_list)],
    "paging-multilevel-translate": [("-a", r_num), ("-n", r_count)],
    "paging-policy": [("-a", r_list), ("-n", r_count), ("-C", r_num), ("-m", r_num), ("-b", r_num),
                      ("-p", lambda: R.choice(["FIFO", "LRU", "MRU", "OPT", "UNOPT", "RAND", "CLOCK", "fifo"]))],
}
MIXED_COUNT = {"paging-multilevel-translate": 15}


def mixed(script):
    out = []
    for _ in range(MIXED_COUNT.get(script, 60)):
        a = ["-s", R.choice([str(R.randint(-99, 10**6)), r_num()])]
        if R.random() < 0.7:
            a.append("-c")
        if script == "paging-policy" and R.random() < 0.3:
            a.append("-N")
        if script == "paging-linear-translate" and R.random() < 0.3:
            a.append("-v")
        for flag, value in MIXED_FLAGS[script]:
            if R.random() < 0.35:
                a += [flag, value()]
        out.append(a)
    return out


def record(script, args, columns, homework):
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    path = os.path.join(homework, PATHS[script])
    try:
        r = subprocess.run([sys.executable, path, *args], cwd=ROOT, env=env, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return []
    out = r.stdout.decode()
    err = r.stderr.decode()
    head = {"script": script, "args": args}
    if columns is not None:
        head["columns"] = columns
    lines = ["$ " + json.dumps(head, ensure_ascii=False), "? exit %d" % r.returncode]
    body = out.split("\n")
    last = body.pop()
    lines += ["| " + line for line in body]
    if last != "":
        lines += ["| " + last, "\\ no newline"]
    if err.startswith("Traceback"):
        lines.append("!traceback " + err.rstrip("\n").split("\n")[-1])
    elif err != "":
        lines += ["! " + line for line in err.rstrip("\n").split("\n")]
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    homework = sys.argv[1]
    for script, cases in CASES.items():
        runs = [(c, "80") for c in cases + mixed(script)] + [(c, "80") for c in OPTPARSE]
        runs += [(["-h"], col) for col in HELP_COLUMNS] + [(["-h"], None)]
        out = []
        for args, columns in runs:
            out += record(script, args, columns, homework)
        with open(os.path.join(ROOT, "test", "ostep", script + ".txt"), "w") as f:
            f.write("\n".join(out) + "\n")
        print("%s: %d cases" % (script, len(runs)))


main()
