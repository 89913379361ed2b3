"""Teams' file cards for the subject access export: the consent card (asks the DPO to accept the file into their
OneDrive) and the info card (the uploaded file, shown in the chat). Neither carries text a person typed."""

from __future__ import annotations

from typing import Any

FILE_CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.info"


def file_consent_card(file_name: str, size: int, export_id: str) -> dict[str, Any]:
    """The attachment asking to upload ``file_name``; the export's id comes back in the invoke's ``context``."""
    context = {"export": export_id}
    return {
        "contentType": FILE_CONSENT_CONTENT_TYPE,
        "name": file_name,
        "content": {
            "description": "Subject access export (report.html and export.json). Other people's data is marked "
                           "for your redaction review. It is kept for you for 24 hours.",
            "sizeInBytes": size,
            "acceptContext": context,
            "declineContext": context,
        },
    }


def file_info_card(name: str, content_url: str, unique_id: str, file_type: str) -> dict[str, Any]:
    """The attachment showing the uploaded file in the chat."""
    return {
        "contentType": FILE_INFO_CONTENT_TYPE,
        "contentUrl": content_url,
        "name": name,
        "content": {"uniqueId": unique_id, "fileType": file_type},
    }
