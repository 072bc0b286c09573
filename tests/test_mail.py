"""The embedded default's mail: each message an .eml file under var/mail/, one log line per message."""

import email
import json
import logging

from django.core.mail import EmailMessage, get_connection

from tests.test_settings import run

PRINT_MAIL = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.EMAIL_BACKEND, str(getattr(settings, 'EMAIL_FILE_PATH', ''))]))"
)


def test_without_an_email_url_mail_goes_to_files_under_the_var_folder(tmp_path):
    result = run(PRINT_MAIL, IMR_VAR_DIR=str(tmp_path))
    assert json.loads(result.stdout) == ["reviews.mail.FolderEmailBackend", str(tmp_path / "mail")]


def test_an_email_url_still_chooses_the_backend(tmp_path):
    result = run(PRINT_MAIL, IMR_VAR_DIR=str(tmp_path), EMAIL_URL="smtp://mail.example.org:25")
    assert json.loads(result.stdout)[0] == "django.core.mail.backends.smtp.EmailBackend"


def test_each_mail_is_one_file_and_one_log_line_without_its_attachment(tmp_path, caplog):
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 400  # a letter of 100 kB
    messages = [
        EmailMessage("Final Determination CM26-0000001", "Attached.", to=["ca@example.org"]),
        EmailMessage("Final Determination CM26-0000002", "Attached.", to=["ur@example.org", "dr@example.org"]),
    ]
    for message in messages:
        message.attach("letter.pdf", pdf, "application/pdf")
    with caplog.at_level(logging.INFO, logger="reviews.mail"):
        sent = get_connection("reviews.mail.FolderEmailBackend", file_path=str(tmp_path)).send_messages(messages)

    assert sent == 2
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_bytes(path.read_bytes()) for path in files]
    assert sorted(m["Subject"] for m in parsed) == [m.subject for m in messages]
    attachment = next(part for part in parsed[0].walk() if part.get_filename() == "letter.pdf")
    assert attachment.get_payload(decode=True) == pdf  # the file keeps the whole mail
    lines = [r.getMessage() for r in caplog.records if r.name == "reviews.mail"]
    assert len(lines) == 2 and all(len(line) < 200 for line in lines)  # the log does not
    assert lines[1].startswith("mail to ur@example.org, dr@example.org: Final Determination CM26-0000002 (")
    assert any(str(path) in lines[1] for path in files)
