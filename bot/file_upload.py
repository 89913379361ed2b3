"""The upload of a file the user accepted with Teams' file consent card: one PUT of the whole file to the upload
URL Teams gave (a OneDrive upload session), as Microsoft's file-upload flow describes (``Content-Range`` of the
whole file). A file of a few megabytes goes in one request; OneDrive answers 200 or 201."""

from __future__ import annotations

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def put_file(url: str, content: bytes) -> None:
    """PUT ``content`` to ``url``.

    Raises:
        aiohttp.ClientError: the connection failed, or the answer was not 2xx.
    """
    headers = {"Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}",
               "Content-Type": "application/octet-stream"}
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        async with session.put(url, data=content, headers=headers, allow_redirects=False) as response:
            response.raise_for_status()
