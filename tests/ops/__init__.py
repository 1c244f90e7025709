"""Tests of controller/ops/."""
