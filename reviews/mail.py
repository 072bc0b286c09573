"""The embedded default's outgoing mail: each message kept as a file, one line on the console per message."""

import logging
import uuid
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend as FileBasedBackend
from django.utils import timezone

logger = logging.getLogger(__name__)


class FolderEmailBackend(FileBasedBackend):
    """Writes each message to an .eml file of its own in EMAIL_FILE_PATH (<IMR_VAR_DIR>/mail by
    default) and logs one line for it: to whom, the subject, the file.

    Django's console backend prints whole messages, attachments in base64: the served letters'
    PDFs came to thousands of log lines. An .eml file opens in any mail program, attachments too.
    """

    def send_messages(self, email_messages):
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            path = Path(self.file_path) / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(message.message().as_bytes())
            logger.info("mail to %s: %s (%s)", ", ".join(message.recipients()), message.subject, path)
        return len(email_messages)
