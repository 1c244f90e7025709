"""Simulated MDB: a Qibixx board on a pty (``board``) and the peripherals behind it
(``peripheral`` is the interface a simulated device implements to plug in by address)."""
