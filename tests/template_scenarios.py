"""The scenarios: one or more runs of each shipped template, named "<template>-<case>",
worked by the people its tasks name, with the messages, timers, HTTP services and
incidents it meets.

Timers that matter are driven by variables (`"duration": "=sla"` started with `PT1S`);
the incident scenario shortens its retry interval (the attempts and policy are kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.client import GraphQLError
from tests.template_stack import Stack, ends, entered, history_types, open_tasks, soon

# The scenarios: one or more runs of each template, named "<template>-<case>".

Scenario = Callable[[Stack], Awaitable[None]]
SCENARIOS: list[Any] = []


def scenario(name: str, case: str) -> Callable[[Scenario], Scenario]:
    def register(run: Scenario) -> Scenario:
        SCENARIOS.append(pytest.param(run, id=f"{name}-{case}"))
        return run

    return register


@scenario("leave_request", "long_leave_approved")
async def _leave_approved(s: Stack) -> None:
    definition = await s.deploy("leave_request")
    _, employee = await s.person()
    p = await s.start(definition, employee, days=12, reason="family trip")
    review = await p.work("review", "managers", approved=True, comment="enjoy")
    assert review["priority"] == 80
    await p.work("record", "hr", recorded=True)
    final = await p.finish()
    assert final["variables"] == {
        "days": 12,
        "reason": "family trip",
        "approved": True,
        "comment": "enjoy",
        "recorded": True,
    }
    assert ends(final, definition) == ["approved"]


@scenario("leave_request", "short_leave_rejected")
async def _leave_rejected(s: Stack) -> None:
    definition = await s.deploy("leave_request")
    _, employee = await s.person()
    p = await s.start(definition, employee, days=3)
    review = await p.work("review", "managers", approved=False)
    assert review["priority"] == 50
    final = await p.finish()
    assert final["variables"] == {"days": 3, "approved": False}
    assert ends(final, definition) == ["rejected"] and "record" not in entered(final)


@scenario("expense_approval", "small_expense_paid")
async def _expense_small(s: Stack) -> None:
    definition = await s.deploy("expense_approval")
    _, employee = await s.person()
    p = await s.start(definition, employee, amount=250, currency="EUR", description="Train")
    await p.work("lead_review", "team_leads", approved=True)
    await p.work("pay", "finance", payment_reference="TRX-1")
    final = await p.finish()
    assert final["variables"] == {
        "amount": 250,
        "currency": "EUR",
        "description": "Train",
        "approved": True,
        "payment_reference": "TRX-1",
    }
    assert ends(final, definition) == ["paid"] and "finance_review" not in entered(final)


@scenario("expense_approval", "large_expense_paid_after_finance")
async def _expense_large(s: Stack) -> None:
    definition = await s.deploy("expense_approval")
    _, employee = await s.person()
    p = await s.start(definition, employee, amount=4200.5, currency="EUR")
    await p.work("lead_review", "team_leads", approved=True, note="conference")
    finance = await p.work("finance_review", "finance", finance_approved=True)
    assert finance["priority"] == 70
    await p.work("pay", "finance", payment_reference="TRX-2")
    final = await p.finish()
    assert final["variables"]["finance_approved"] is True
    assert ends(final, definition) == ["paid"]


@scenario("expense_approval", "rejected_by_lead")
async def _expense_rejected(s: Stack) -> None:
    definition = await s.deploy("expense_approval")
    _, employee = await s.person()
    p = await s.start(definition, employee, amount=90, currency="USD")
    await p.work("lead_review", "team_leads", approved=False, note="personal")
    final = await p.finish()
    assert final["variables"] == {
        "amount": 90,
        "currency": "USD",
        "approved": False,
        "note": "personal",
    }
    assert ends(final, definition) == ["rejected"] and "pay" not in entered(final)


@scenario("document_review", "accepted_after_a_revision")
async def _document_review(s: Stack) -> None:
    definition = await s.deploy("document_review")
    _, author = await s.person()
    p = await s.start(definition, author, title="Q3 report", url="https://example.com/q3")
    await p.work("review", "reviewers", verdict="revise", remarks="add the figures")
    await p.work("revise", author, summary_of_changes="figures added")
    await p.work("review", "reviewers", verdict="accept")
    final = await p.finish()
    assert final["variables"] == {
        "title": "Q3 report",
        "url": "https://example.com/q3",
        "verdict": "accept",
        "remarks": "add the figures",
        "summary_of_changes": "figures added",
    }
    assert ends(final, definition) == ["accepted"] and entered(final).count("review") == 2


@scenario("parallel_document_review", "quorum_accepts_after_a_revision")
async def _parallel_review(s: Stack) -> None:
    definition = await s.deploy("parallel_document_review")
    _, author = await s.person()
    reviewers = [await s.person() for _ in range(3)]
    names = [name for name, _ in reviewers]
    p = await s.start(definition, author, title="Design doc", reviewers=names, quorum=2)
    first_round = {t["assignee"]["username"] for t in open_tasks(p.started, "review")}
    assert first_round == set(names)
    # One request for a revision ends the round; the other reviews are withdrawn.
    (ann, as_ann), (bob, as_bob), (cy, as_cy) = reviewers
    await p.work("review", as_bob, assignee=bob, verdict="revise", remarks="too long")
    assert await p.open_nodes() == ["revise"]
    await p.work("revise", author, summary_of_changes="shortened")
    # A new round with every reviewer; two acceptances are the quorum.
    assert len(await p.open_nodes()) == 3
    await p.work("review", as_ann, assignee=ann, verdict="accept")
    await p.work("review", as_cy, assignee=cy, verdict="accept")
    final = await p.finish()
    assert final["variables"] == {
        "title": "Design doc",
        "reviewers": names,
        "quorum": 2,
        "summary_of_changes": "shortened",
        "reviews": [{"verdict": "accept"}, None, {"verdict": "accept"}],
    }
    assert ends(final, definition) == ["accepted"]
    assert history_types(final).count("TASK_CANCELLED") == 3


@scenario("purchase_order", "large_order_received_in_full")
async def _purchase_large(s: Stack) -> None:
    definition = await s.deploy("purchase_order")
    _, requester = await s.person()
    p = await s.start(
        definition,
        requester,
        item="Laptop",
        quantity=10,
        unit_price=800,
        currency="EUR",
        supplier="Acme",
    )
    await p.work("head_approval", "department_heads", approved=True)
    await p.work("place_order", "procurement", po_number="PO-1001", expected_delivery="2030-01-15")
    sent = await p.send("goods_received", received_quantity=10)
    assert sent["variables"]["received_quantity"] == 10
    final = await p.finish()
    assert final["variables"] == {
        "item": "Laptop",
        "quantity": 10,
        "unit_price": 800,
        "currency": "EUR",
        "supplier": "Acme",
        "total": 8000.0,
        "approved": True,
        "po_number": "PO-1001",
        "expected_delivery": "2030-01-15",
        "received_quantity": 10,
    }
    assert ends(final, definition) == ["received"]


@scenario("purchase_order", "small_order_delivered_short")
async def _purchase_short(s: Stack) -> None:
    definition = await s.deploy("purchase_order")
    _, requester = await s.person()
    p = await s.start(
        definition,
        requester,
        item="Cables",
        quantity=4,
        unit_price=25.5,
        currency="EUR",
        supplier="Acme",
    )
    await p.work("place_order", "procurement", po_number="PO-1002")
    await p.send("goods_received", received_quantity=3)
    await p.work("short_delivery", "procurement", resolution="credit_note")
    final = await p.finish()
    assert final["variables"]["total"] == 102.0
    assert final["variables"]["resolution"] == "credit_note"
    assert ends(final, definition) == ["closed_short"]
    assert "head_approval" not in entered(final)


@scenario("invoice_approval", "large_invoice_paid_after_a_discrepancy")
async def _invoice_large(s: Stack) -> None:
    definition = await s.deploy("invoice_approval")
    _, clerk = await s.person()
    due = soon(1)
    p = await s.start(
        definition,
        clerk,
        invoice_number="INV-7",
        supplier="Acme",
        amount=12500,
        currency="EUR",
        po_number="PO-1001",
        due_date=due,
    )
    await p.work("match", "accounts_payable", matches=False, discrepancy="unit price")
    await p.work("resolve_discrepancy", "accounts_payable", amount=12000, supplier_response="ok")
    await p.work("match", "accounts_payable", matches=True)
    # Above 10000: both approvals at once.
    assert await p.open_nodes() == ["controller_approval", "owner_approval_large"]
    await p.work("controller_approval", "controllers", controller_approved=True)
    await p.work("owner_approval_large", "budget_owners", owner_approved=True)
    await p.work("pay", "treasury", payment_reference="PAY-7")
    final = await p.finish()
    variables = final["variables"]
    assert (variables["amount"], variables["approved"]) == (12000, True)
    assert ends(final, definition) == ["paid"]
    [timer] = [h for h in final["history"] if h["type"] == "TIMER_STARTED"]
    assert datetime.fromisoformat(timer["data"]["fire_at"]) == datetime.fromisoformat(due)
    assert "TIMER_FIRED" in history_types(final)


@scenario("invoice_approval", "small_invoice_rejected")
async def _invoice_small(s: Stack) -> None:
    definition = await s.deploy("invoice_approval")
    _, clerk = await s.person()
    p = await s.start(
        definition,
        clerk,
        invoice_number="INV-8",
        supplier="Acme",
        amount=800,
        currency="EUR",
        due_date="2030-01-31T00:00:00+01:00",
    )
    await p.work("match", "accounts_payable", matches=True)
    await p.work("owner_approval", "budget_owners", approved=False)
    final = await p.finish()
    assert final["variables"]["approved"] is False
    assert ends(final, definition) == ["rejected"]
    assert not {"split", "wait_due_date"} & set(entered(final))


@scenario("employee_onboarding", "onboarded")
async def _onboarding(s: Stack) -> None:
    definition = await s.deploy("employee_onboarding")
    manager, as_manager = await s.person()
    _, recruiter = await s.person()
    p = await s.start(
        definition,
        recruiter,
        employee_name="Ada Lovelace",
        email="ada@example.com",
        department="Engineering",
        start_date="2030-09-01",
        manager=manager,
    )
    assert sorted(t["nodeId"] for t in open_tasks(p.started)) == [
        "facilities_setup",
        "hr_paperwork",
        "it_setup",
    ]
    await p.work("facilities_setup", "facilities", desk="B-204", badge_number="7731")
    await p.work("hr_paperwork", "hr", contract_signed=True, payroll_id="PR-99")
    assert await p.open_nodes() == ["it_setup"]
    await p.work("it_setup", "it_support", account_created=True, laptop_serial="SN-1")
    checkin = await p.work("first_week_checkin", as_manager, settled_in=True)
    assert checkin["assignee"]["username"] == manager
    final = await p.finish()
    assert final["variables"]["badge_number"] == "7731"
    assert final["variables"]["settled_in"] is True
    assert ends(final, definition) == ["onboarded"]
    assert entered(final).index("announce") > entered(final).index("ready")


@scenario("employee_offboarding", "resigned")
async def _offboarding(s: Stack) -> None:
    definition = await s.deploy("employee_offboarding")
    _, hr_partner = await s.person()
    p = await s.start(
        definition,
        hr_partner,
        employee_name="Bob Smith",
        username="bsmith",
        last_day_ends=soon(1),
        resigned=True,
    )
    # Access is revoked only once the last day has ended.
    assert sorted(t["nodeId"] for t in open_tasks(p.started)) == [
        "collect_equipment",
        "final_pay",
    ]
    await p.work("final_pay", "hr", final_pay_settled=True, untaken_leave_days=3)
    await p.work("collect_equipment", "facilities", equipment_returned=True)
    revoke = await p.work("revoke_access", "it_support", access_revoked=True)
    assert revoke["priority"] == 90
    await p.work("exit_interview", "hr", feedback="good team", would_return=True)
    final = await p.finish()
    assert "TIMER_FIRED" in history_types(final)
    assert ends(final, definition) == ["offboarded"]


@scenario("contract_signing", "signed_in_time")
async def _contract_signed(s: Stack) -> None:
    definition = await s.deploy("contract_signing")
    _, seller = await s.person()
    business_key = f"CT-{uuid.uuid4().hex[:8]}"
    p = await s.start(
        definition,
        seller,
        business_key=business_key,
        counterparty="Globex",
        contract_title="Master services agreement",
        value=50000,
        signature_window="P14D",
    )
    await p.work("draft", "legal", document_url="https://sign.example/d/1", envelope_id="ENV-1")
    signed_at = datetime.now(UTC).isoformat()
    await p.send(
        "contract_signed", business_key=business_key, signed_by="H. Scorpio", signed_at=signed_at
    )
    await p.work("countersign", "legal", countersigned=True)
    final = await p.finish()
    assert final["variables"]["signed_by"] == "H. Scorpio"
    assert ends(final, definition) == ["signed"]
    cancelled = [h["nodeId"] for h in final["history"] if h["type"] == "TIMER_CANCELLED"]
    assert cancelled == ["expiry"]


@scenario("contract_signing", "expired_then_dropped")
async def _contract_expired(s: Stack) -> None:
    definition = await s.deploy("contract_signing")
    _, seller = await s.person()
    p = await s.start(
        definition,
        seller,
        counterparty="Initech",
        contract_title="Support contract",
        signature_window="PT1S",
    )
    await p.work("draft", "legal", document_url="https://sign.example/d/2", envelope_id="ENV-2")
    await p.task("expired_follow_up")
    # The interrupting timer ended the wait: a late signature is refused, not lost.
    with pytest.raises(GraphQLError) as late:
        await p.send("contract_signed", signed_by="too late")
    assert late.value.codes == ["CONFLICT"]
    await p.work("expired_follow_up", "sales", follow_up="drop")
    final = await p.finish()
    assert "signed_by" not in final["variables"]
    assert ends(final, definition) == ["dropped"] and "countersign" not in entered(final)


@scenario("customer_complaint", "resolved_within_the_sla")
async def _complaint_in_time(s: Stack) -> None:
    definition = await s.deploy("customer_complaint")
    _, agent = await s.person()
    p = await s.start(
        definition,
        agent,
        customer="Jane Roe",
        channel="email",
        summary="Parcel arrived damaged",
        severity="medium",
        sla="P2D",
    )
    await p.work("triage", "support", category="delivery", valid=True)
    resolve = await p.work("resolve", "support", resolution="replacement sent", compensation=10)
    assert resolve["dueAt"] is not None and resolve["priority"] == 60
    final = await p.finish()
    assert ends(final, definition) == ["resolved"]
    assert "escalate" not in entered(final) and "TIMER_CANCELLED" in history_types(final)


@scenario("customer_complaint", "escalated_past_the_sla")
async def _complaint_escalated(s: Stack) -> None:
    definition = await s.deploy("customer_complaint")
    _, agent = await s.person()
    p = await s.start(
        definition,
        agent,
        customer="John Doe",
        channel="phone",
        summary="Charged twice",
        severity="high",
        sla="PT1S",
    )
    triage = await p.work("triage", "support", category="billing", valid=True)
    assert triage["priority"] == 90
    # The SLA passes: an escalation beside the resolution, which stays open.
    escalation = await p.task("escalate")
    assert escalation["priority"] == 95
    assert await p.open_nodes() == ["escalate", "resolve"]
    await p.work("escalate", "support_supervisors", escalation_note="called the customer")
    assert (await p.read())["status"] == "RUNNING"
    await p.work("resolve", "support", resolution="refunded")
    final = await p.finish()
    assert final["variables"]["escalation_note"] == "called the customer"
    assert ends(final, definition) == ["escalation_handled", "resolved"]


@scenario("it_access_request", "read_access_granted")
async def _access_granted(s: Stack) -> None:
    definition = await s.deploy("it_access_request")
    manager, as_manager = await s.person()
    _, employee = await s.person()
    p = await s.start(
        definition,
        employee,
        system="crm",
        access_level="read",
        justification="sales pipeline reports",
        manager=manager,
    )
    await p.work("manager_approval", as_manager, approved=True)
    await p.work("provision", "it_support", account_id="crm-role-reader")
    final = await p.finish()
    assert final["variables"]["access_granted"] is True
    assert final["variables"]["granted_level"] == "read"
    assert ends(final, definition) == ["granted"] and "security_review" not in entered(final)


@scenario("it_access_request", "admin_access_refused_by_security")
async def _access_refused(s: Stack) -> None:
    definition = await s.deploy("it_access_request")
    manager, as_manager = await s.person()
    _, employee = await s.person()
    p = await s.start(
        definition,
        employee,
        system="erp",
        access_level="admin",
        justification="month-end close",
        manager=manager,
    )
    await p.work("manager_approval", as_manager, approved=True)
    await p.work("security_review", "security", security_approved=False)
    final = await p.finish()
    assert "access_granted" not in final["variables"]
    assert ends(final, definition) == ["refused"] and "provision" not in entered(final)


@scenario("change_request", "network_and_database_change_made")
async def _change_made(s: Stack) -> None:
    definition = await s.deploy("change_request")
    _, engineer = await s.person()
    p = await s.start(
        definition,
        engineer,
        title="Move the primary database",
        areas=["network", "database"],
        risk="high",
    )
    # Only the affected areas assess it, at the same time.
    assert sorted(t["nodeId"] for t in open_tasks(p.started)) == [
        "database_review",
        "network_review",
    ]
    await p.work("network_review", "network_team", network_ok=True)
    await p.work("database_review", "dbas", database_ok=True, database_notes="replica first")
    cab = await p.work("cab", "change_advisory_board", approved=True, change_window="Sat 02:00")
    assert cab["priority"] == 80
    await p.work("implement", "change_implementers", outcome="implemented")
    final = await p.finish()
    assert ends(final, definition) == ["implemented"]
    path = entered(final)
    assert not {"application_review", "security_review"} & set(path)


@scenario("change_request", "standard_change_rejected")
async def _change_rejected(s: Stack) -> None:
    definition = await s.deploy("change_request")
    _, engineer = await s.person()
    p = await s.start(definition, engineer, title="Rotate a log file", areas=[], risk="low")
    assert [t["nodeId"] for t in open_tasks(p.started)] == ["cab"]
    await p.work("cab", "change_advisory_board", approved=False)
    final = await p.finish()
    assert final["variables"] == {
        "title": "Rotate a log file",
        "areas": [],
        "risk": "low",
        "approved": False,
    }
    assert ends(final, definition) == ["rejected"]


@scenario("due_diligence", "medium_risk")
async def _due_diligence(s: Stack) -> None:
    definition = await s.deploy("due_diligence")
    _, buyer = await s.person()
    p = await s.start(definition, buyer, vendor_name="Initech", country="US", annual_spend=2500000)
    assert sorted(t["nodeId"] for t in open_tasks(p.started)) == [
        "credit_check",
        "sanctions_screening",
    ]
    await p.work("sanctions_screening", "compliance", sanctions_hit=False)
    await p.work("credit_check", "finance", credit_score=720)
    final = await p.finish()
    assert final["variables"]["risk_rating"] == "medium"
    assert ends(final, definition) == ["rated"]


async def _vendor_definitions(s: Stack) -> dict[str, Any]:
    """vendor_onboarding, calling a due_diligence deployed under a fresh key too."""
    child = await s.deploy("due_diligence")
    return await s.deploy("vendor_onboarding", due_diligence={"calledElement": child["key"]})


@scenario("vendor_onboarding", "low_risk_onboarded")
async def _vendor_onboarded(s: Stack) -> None:
    definition = await _vendor_definitions(s)
    _, buyer = await s.person()
    p = await s.start(
        definition,
        buyer,
        vendor_name="Acme Tools",
        country="DE",
        annual_spend=120000,
        contact_email="ap@acme.example",
    )
    await p.work("collect_documents", "procurement", tax_id="DE123", iban="DE89370400440532013000")
    child = await p.child("due_diligence", "due_diligence")
    await child.work("sanctions_screening", "compliance", sanctions_hit=False)
    await child.work("credit_check", "finance", credit_score=810)
    rated = await child.ended()
    assert rated["variables"] == {
        "vendor_name": "Acme Tools",
        "country": "DE",
        "annual_spend": 120000,
        "sanctions_hit": False,
        "credit_score": 810,
        "risk_rating": "low",
    }
    await p.work("create_vendor", "procurement", vendor_id="V-100")
    final = await p.finish()
    # Only what `outputs` maps comes back from the child.
    assert final["variables"] == {
        "vendor_name": "Acme Tools",
        "country": "DE",
        "annual_spend": 120000,
        "contact_email": "ap@acme.example",
        "tax_id": "DE123",
        "iban": "DE89370400440532013000",
        "risk": "low",
        "vendor_id": "V-100",
    }
    assert ends(final, definition) == ["onboarded"]
    assert "CHILD_COMPLETED" in history_types(final)


@scenario("vendor_onboarding", "due_diligence_cancelled_rated_by_hand")
async def _vendor_refused(s: Stack) -> None:
    definition = await _vendor_definitions(s)
    _, buyer = await s.person()
    p = await s.start(definition, buyer, vendor_name="Shady Ltd", country="XX", annual_spend=5000)
    await p.work("collect_documents", "procurement", tax_id="XX1", iban="XX00000000000000")
    child = await p.child("due_diligence", "due_diligence")
    await child.task("sanctions_screening")
    # The child ends without completing: the errorBoundary takes over.
    await buyer.execute(
        'mutation($id: ID!) { cancelInstance(id: $id, reason: "stale") { status } }',
        {"id": child.id},
    )
    await child.ended("CANCELLED")
    await p.work("manual_rating", "compliance", risk="high")
    final = await p.finish()
    assert final["variables"]["risk"] == "high"
    assert ends(final, definition) == ["refused"]
    assert "due_diligence_failed" in entered(final) and "CHILD_FAILED" in history_types(final)


@scenario("budget_approval", "approved_by_the_whole_chain")
async def _budget_approved(s: Stack) -> None:
    definition = await s.deploy("budget_approval")
    chain = [await s.person() for _ in range(3)]
    _, controller = await s.person()
    p = await s.start(
        definition,
        controller,
        department="R&D",
        fiscal_year=2030,
        amount=250000,
        currency="EUR",
        approvers=[name for name, _ in chain],
    )
    for step, (name, as_approver) in enumerate(chain):
        # One at a time, in order.
        [task] = open_tasks(await p.read(), "approve")
        assert task["assignee"]["username"] == name and task["priority"] == 50 + 10 * step
        await p.work("approve", as_approver, assignee=name, approved=True)
    await p.work("book", "finance", budget_code="RD-2030")
    final = await p.finish()
    assert final["variables"]["approvals"] == [{"approved": True}] * 3
    assert ends(final, definition) == ["approved"]


@scenario("budget_approval", "rejected_by_the_second_approver")
async def _budget_rejected(s: Stack) -> None:
    definition = await s.deploy("budget_approval")
    (first, as_first), (second, as_second), (third, _) = [await s.person() for _ in range(3)]
    _, controller = await s.person()
    p = await s.start(
        definition,
        controller,
        department="Sales",
        fiscal_year=2030,
        amount=80000,
        currency="EUR",
        approvers=[first, second, third],
    )
    await p.work("approve", as_first, assignee=first, approved=True)
    await p.work("approve", as_second, assignee=second, approved=False, comment="too high")
    final = await p.finish()
    # The third approver is never asked.
    assert final["variables"]["approvals"] == [
        {"approved": True},
        {"approved": False, "comment": "too high"},
        None,
    ]
    assert history_types(final).count("TASK_CREATED") == 2
    assert ends(final, definition) == ["rejected"]


LOAN: dict[str, Any] = {"applicant": "Jane Roe", "amount": 20000, "term_months": 48}


@scenario("loan_application", "approved_after_a_retried_scoring_call")
async def _loan_approved(s: Stack) -> None:
    definition = await s.deploy("loan_application")
    server = await s.server()
    url = server.script("/score", (503, {"error": "busy"}), (200, {"score": 780}))
    _, officer = await s.person()
    p = await s.start(definition, officer, **LOAN, scoring_url=url)
    final = await p.finish()
    assert server.received["/score"] == [LOAN, LOAN]
    assert final["variables"] == {**LOAN, "scoring_url": url, "score": 780, "decision": "approved"}
    assert ends(final, definition) == ["approved"] and "underwrite" not in entered(final)


@scenario("loan_application", "middling_score_underwritten")
async def _loan_underwritten(s: Stack) -> None:
    definition = await s.deploy("loan_application")
    server = await s.server()
    url = server.script("/score", (200, {"score": 610}))
    _, officer = await s.person()
    p = await s.start(definition, officer, **LOAN, scoring_url=url)
    await p.work("underwrite", "underwriters", decision="approved", underwriting_note="stable")
    final = await p.finish()
    assert final["variables"]["score"] == 610
    assert ends(final, definition) == ["approved"]


@scenario("loan_application", "scoring_refused_then_declined_by_hand")
async def _loan_scoring_failed(s: Stack) -> None:
    definition = await s.deploy("loan_application")
    server = await s.server()
    url = server.script("/score", (422, {"error": "unknown applicant"}))
    _, officer = await s.person()
    p = await s.start(definition, officer, **LOAN, scoring_url=url)
    await p.work("underwrite", "underwriters", decision="declined")
    final = await p.finish()
    # A 4xx is not retried: one call, then the errorBoundary.
    assert len(server.received["/score"]) == 1
    [failed] = [h for h in final["history"] if h["type"] == "SERVICE_FAILED"]
    assert failed["data"]["error_code"] == "HTTP_4XX"
    assert "score" not in final["variables"]
    assert ends(final, definition) == ["declined"] and "scoring_failed" in entered(final)


# The template waits 2 s, then 4 s, between its 3 attempts; the scenario keeps the
# attempts and shortens the waits.
@scenario("job_application", "hired")
async def _job_hired(s: Stack) -> None:
    definition = await s.deploy("job_application")
    _, recruiter = await s.person()
    p = await s.start(definition, recruiter, candidate="Ada", position="Engineer")
    await p.work("screen", "recruiters", shortlisted=True)
    await p.work("interview", "hiring_managers", hire=True, notes="strong")
    final = await p.finish()
    # The terminate end stopped the wait for a withdrawal: a late one is refused.
    assert entered(final)[-2:] == ["offer_sent", "hired"]
    assert history_types(final)[-1] == "INSTANCE_COMPLETED"
    with pytest.raises(GraphQLError) as late:
        await p.send("application_withdrawn", withdrawal_reason="too late")
    assert late.value.codes == ["CONFLICT"]


@scenario("job_application", "withdrawn_during_the_interview")
async def _job_withdrawn(s: Stack) -> None:
    definition = await s.deploy("job_application")
    _, recruiter = await s.person()
    p = await s.start(definition, recruiter, candidate="Bo", position="Designer")
    await p.work("screen", "recruiters", shortlisted=True)
    interview = await p.task("interview")
    await p.send("application_withdrawn", withdrawal_reason="another offer")
    final = await p.finish()
    assert ends(final, definition) == ["withdrawn"]
    assert final["variables"]["withdrawal_reason"] == "another offer"
    (cancelled,) = [t for t in final["tasks"] if t["id"] == interview["id"]]
    assert cancelled["status"] == "CANCELLED"
    assert "hire" not in final["variables"]


QUICK_RETRY = {
    "retry": {
        "maxAttempts": 3,
        "initialInterval": "PT0.1S",
        "backoff": 1.0,
        "maxInterval": "PT0.1S",
    }
}


@scenario("incident_handling", "incident_retried_then_fixed")
async def _incident_retried(s: Stack) -> None:
    definition = await s.deploy("incident_handling", diagnose=QUICK_RETRY)
    server = await s.server()
    url = server.script("/health", (503, {"error": "unavailable"}))
    _, operator = await s.person()
    p = await s.start(
        definition, operator, service="checkout", severity="sev1", summary="5xx", health_url=url
    )
    stuck = await p.until(lambda f: f["status"] == "INCIDENT", "the incident")
    assert "HTTP_5XX" in stuck["incident"] and len(server.received["/health"]) == 3
    # The endpoint is back: retrying runs the diagnostics again.
    server.script("/health", (200, {"healthy": False, "error_rate": 0.3}))
    retried = await operator.execute(
        "mutation($id: ID!) { retryIncident(instanceId: $id) { status } }", {"id": p.id}
    )
    assert retried["retryIncident"]["status"] == "RUNNING"
    fix = await p.work("fix", "on_call", root_cause="bad deploy", restored=True)
    assert fix["priority"] == 100
    await p.work("postmortem", "sre", postmortem_url="https://wiki.example/pm/1")
    final = await p.finish()
    assert final["variables"]["healthy"] is False
    assert final["variables"]["diagnostics"] == {"healthy": False, "error_rate": 0.3}
    assert ends(final, definition) == ["resolved"]
    assert {"INCIDENT_RAISED", "INCIDENT_RESOLVED"} <= set(history_types(final))


@scenario("incident_handling", "healthy_on_diagnosis")
async def _incident_transient(s: Stack) -> None:
    definition = await s.deploy("incident_handling", diagnose=QUICK_RETRY)
    server = await s.server()
    url = server.script("/health", (200, {"healthy": True}))
    _, operator = await s.person()
    p = await s.start(
        definition, operator, service="search", severity="sev3", summary="slow", health_url=url
    )
    final = await p.finish()
    assert final["variables"]["healthy"] is True
    assert ends(final, definition) == ["transient"] and "fix" not in entered(final)
