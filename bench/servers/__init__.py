"""The baseline servers of the comparison, each speaking the bench's adapter protocol
(bench/README.md), and :mod:`bench.servers.spawn`, which runs any server as a child process."""
