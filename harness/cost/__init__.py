"""Deterministic cost per operation: instructions (callgrind) and system calls (strace) a
server spends on each verified operation of a fixed replay, with the per-function profile
that says where the instructions go, and sampled flame graphs for what valgrind cannot see."""
