"""Tests of controller/panel/."""
