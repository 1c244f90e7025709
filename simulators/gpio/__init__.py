"""Simulated GPIO devices on gpiozero mock pins, watching and driving the same pin levels."""
