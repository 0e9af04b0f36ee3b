"""Sending e-mail: the SMTP adapter against a real local SMTP server, and the dev logger."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from pydantic import SecretStr

from partnerguard.cli.embedded import free_port
from partnerguard.common.adapters.email import LogEmailSender, SmtpEmailSender
from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import RetryPolicy
from tests.support.onboarding_fakes import FakeSmtpServer, captured_logs

FAST = RetryPolicy(timeout_seconds=2.0, retries=2, backoff_seconds=0.01)
PASSWORD = "smtp-pass-very-secret"


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with captured_logs() as entries:
        yield entries


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(credentials=("mailer", PASSWORD)) as server:
        yield server


@pytest.fixture
def smtp(smtp_server: FakeSmtpServer) -> FakeSmtpServer:
    smtp_server.reset()
    return smtp_server


def sender(
    smtp: FakeSmtpServer, *, password: str = PASSWORD, starttls: bool = False
) -> SmtpEmailSender:
    return SmtpEmailSender(
        host=smtp.host,
        port=smtp.port,
        sender="no-reply@partnerguard.example",
        username="mailer",
        password=SecretStr(password),
        starttls=starttls,
        policy=FAST,
    )


async def test_message_is_delivered_with_subject_body_and_sender(smtp: FakeSmtpServer) -> None:
    await sender(smtp).send("ada@acme.example", "Your code", "Your code is 482913.\n")

    [mail] = smtp.messages
    assert mail.mail_from == "no-reply@partnerguard.example"
    assert mail.rcpt_tos == ("ada@acme.example",)
    assert mail.message["From"] == "no-reply@partnerguard.example"
    assert mail.message["To"] == "ada@acme.example"
    assert mail.subject == "Your code"
    assert mail.body == "Your code is 482913.\n"
    assert mail.message["Message-ID"].endswith("@partnerguard.example>")
    assert mail.message["Date"]
    assert smtp.last_code_for("ada@acme.example") == "482913"
    assert smtp.logins == ["mailer"]


async def test_the_password_is_never_logged(
    smtp: FakeSmtpServer, logs: list[MutableMapping[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    smtp.refuse_next(1)
    await sender(smtp).send("ada@acme.example", "Hello", "Body")

    assert [entry["event"] for entry in logs] == ["adapter.retry", "email.sent"]
    assert PASSWORD not in repr(logs) + caplog.text


async def test_a_wrong_password_fails_without_retrying(smtp: FakeSmtpServer) -> None:
    with pytest.raises(AdapterError, match="smtp: answered SMTP 535") as error:
        await sender(smtp, password="wrong").send("ada@acme.example", "Hi", "Body")

    assert "wrong" not in str(error.value)
    assert smtp.messages == []


async def test_a_transient_refusal_is_retried(smtp: FakeSmtpServer) -> None:
    smtp.refuse_next(2, "451 4.3.0 Try again later")

    await sender(smtp).send("ada@acme.example", "Hello", "Body")

    assert len(smtp.messages) == 1


async def test_a_permanent_refusal_is_not_retried(smtp: FakeSmtpServer) -> None:
    smtp.refuse_next(1, "554 5.7.1 Rejected")

    with pytest.raises(AdapterError, match="answered SMTP 554$"):
        await sender(smtp).send("ada@acme.example", "Hello", "Body")

    assert smtp.messages == []


async def test_gives_up_after_the_allowed_retries(smtp: FakeSmtpServer) -> None:
    smtp.refuse_next(3, "421 4.7.0 Busy")

    with pytest.raises(AdapterError, match="answered SMTP 421 after 3 attempt"):
        await sender(smtp).send("ada@acme.example", "Hello", "Body")


async def test_an_unreachable_server_fails_after_retries() -> None:
    closed = SmtpEmailSender(
        host="127.0.0.1", port=free_port(), sender="no-reply@partnerguard.example", policy=FAST
    )

    with pytest.raises(AdapterError, match=r"smtp: unreachable \(SMTPConnectError\) after 3"):
        await closed.send("ada@acme.example", "Hello", "Body")


async def test_starttls_required_but_not_offered_fails(smtp: FakeSmtpServer) -> None:
    with pytest.raises(AdapterError, match="smtp: failed"):
        await sender(smtp, starttls=True).send("ada@acme.example", "Hello", "Body")

    assert smtp.messages == []


async def test_dev_sender_logs_the_message(logs: list[MutableMapping[str, Any]]) -> None:
    await LogEmailSender().send("ada@acme.example", "Your code", "Your code is 102938")

    assert logs == [
        {
            "event": "email.dev_send",
            "log_level": "info",
            "to": "ada@acme.example",
            "subject": "Your code",
            "body": "Your code is 102938",
        }
    ]
