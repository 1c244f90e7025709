"""The aiohttp JSON API."""
