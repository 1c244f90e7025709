"""Real GPIO drivers on gpiozero: pulse coin acceptor and hopper, spiral matrix, keypad, LCD."""
