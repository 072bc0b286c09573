"""URLs of the reviews application; case pages carry the case number, never the primary key."""

from django.urls import path, re_path, register_converter

from .views import (
    access,
    cases,
    casework,
    dispute,
    documents,
    home,
    imports,
    intake,
    letters,
    precedents,
    public_copy,
    quality,
    review,
    steps,
)


class CaseNumberConverter:
    """CM<yy>-<7 digits>: keeps /cases/new/ and /cases/import/ apart from case pages."""

    regex = r"CM[0-9]{2}-[0-9]{7}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(CaseNumberConverter, "case")

app_name = "reviews"

urlpatterns = [
    path("", home.home, name="home"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/import/", imports.case_import, name="case_import"),
    path("imports/determinations/", imports.determination_import, name="determination_import"),
    path("imports/determinations/<int:batch_id>/", imports.determination_batch, name="determination_batch"),
    path("cases/new/", intake.case_intake, name="case_intake"),
    path("cases/qa/", quality.qa_list, name="qa_list"),
    path("organizations/search/", intake.organization_search, name="organization_search"),
    path("providers/search/", intake.provider_search, name="provider_search"),
    path("cases/<case:case_number>/", casework.case_detail, name="case_detail"),
    path("cases/<case:case_number>/access/", access.case_access_history, name="case_access_history"),
    # The coordinator's changes to the items and diagnoses after intake (reviews.views.dispute).
    path("cases/<case:case_number>/dispute/", dispute.case_dispute, name="case_dispute"),
    path("cases/<case:case_number>/dispute/items/new/", dispute.dispute_item, name="dispute_item_add"),
    path("cases/<case:case_number>/dispute/items/<int:position>/", dispute.dispute_item, name="dispute_item"),
    path(
        "cases/<case:case_number>/dispute/items/<int:position>/remove/",
        dispute.dispute_item_remove,
        name="dispute_item_remove",
    ),
    path("cases/<case:case_number>/dispute/diagnoses/new/", dispute.dispute_diagnosis, name="dispute_diagnosis_add"),
    path(
        "cases/<case:case_number>/dispute/diagnoses/<int:position>/",
        dispute.dispute_diagnosis,
        name="dispute_diagnosis",
    ),
    path(
        "cases/<case:case_number>/dispute/diagnoses/<int:position>/remove/",
        dispute.dispute_diagnosis_remove,
        name="dispute_diagnosis_remove",
    ),
    path("cases/<case:case_number>/eligibility/", casework.case_eligibility, name="case_eligibility"),
    path("cases/<case:case_number>/request-records/", casework.case_request_records, name="case_request_records"),
    path("cases/<case:case_number>/records-complete/", casework.case_records_complete, name="case_records_complete"),
    path("cases/<case:case_number>/assign/", casework.case_assign, name="case_assign"),
    path("cases/<case:case_number>/items/<int:position>/category/", casework.item_category, name="item_category"),
    # The steps beside the main path (reviews.views.steps).
    path("cases/<case:case_number>/withdraw/", steps.case_withdraw, name="case_withdraw"),
    path("cases/<case:case_number>/authorisation/", steps.case_terminate, name="case_terminate"),
    path("cases/<case:case_number>/expedite/", steps.case_expedite, name="case_expedite"),
    path("cases/<case:case_number>/remand/", steps.case_remand, name="case_remand"),
    path("cases/<case:case_number>/reopen/", steps.case_reopen, name="case_reopen"),
    path("cases/<case:case_number>/qa/", quality.case_qa, name="case_qa"),
    path("cases/<case:case_number>/qa/return/", quality.case_qa_return, name="case_qa_return"),
    path("cases/<case:case_number>/qa/approve/", quality.case_qa_approve, name="case_qa_approve"),
    path("cases/<case:case_number>/qa/public-copy/", public_copy.case_public_copy, name="case_public_copy"),
    path("cases/<case:case_number>/qa/public-copy/remove/", public_copy.public_copy_remove, name="public_copy_remove"),
    path("cases/<case:case_number>/qa/public-copy/keep/", public_copy.public_copy_keep, name="public_copy_keep"),
    path(
        "cases/<case:case_number>/qa/public-copy/confirm/", public_copy.public_copy_confirm, name="public_copy_confirm"
    ),
    path("cases/<case:case_number>/letters/", letters.case_letters, name="case_letters"),
    re_path(
        r"^cases/(?P<case_number>CM[0-9]{2}-[0-9]{7})/letters/v(?P<version>[0-9]+)/(?P<kind>[a-z]+)\.(?P<fmt>pdf|txt)$",
        letters.letter_download,
        name="letter_download",
    ),
    path("cases/<case:case_number>/letters/v<int:version>/retry/", letters.letter_retry, name="letter_retry"),
    path("cases/<case:case_number>/letters/correct/", letters.letter_correct, name="letter_correct"),
    path(
        "cases/<case:case_number>/notices/<slug:kind>/v<int:version>/retry/", letters.notice_retry, name="notice_retry"
    ),
    path(
        "cases/<case:case_number>/notices/<slug:kind>/v<int:version>/serve/",
        letters.notice_serve_again,
        name="notice_serve_again",
    ),
    path(
        "cases/<case:case_number>/letters/deliveries/<int:delivery_id>/mailed/",
        letters.delivery_mailed,
        name="delivery_mailed",
    ),
    path(
        "cases/<case:case_number>/letters/v<int:version>/serve/", letters.letter_serve_again, name="letter_serve_again"
    ),
    path("cases/<case:case_number>/documents/upload/", documents.document_upload, name="document_upload"),
    path("cases/<case:case_number>/documents/<int:document_id>/", documents.document_file, name="document_file"),
    # The expert reviewer's pages (reviews.views.review).
    path("queue/", review.reviewer_queue, name="reviewer_queue"),
    path("queue/completed/", review.reviewer_completed, name="reviewer_completed"),
    path("guidelines/search/", review.guideline_search, name="guideline_search"),
    path("cases/<case:case_number>/attest/", review.case_attest, name="case_attest"),
    path("cases/<case:case_number>/review/", review.case_workspace, name="case_workspace"),
    path("cases/<case:case_number>/review/summary/", review.summary_save, name="case_summary_save"),
    path("cases/<case:case_number>/review/items/<int:position>/", review.item_save, name="case_item_save"),
    path("cases/<case:case_number>/review/preview/", review.case_preview, name="case_preview"),
    path("cases/<case:case_number>/review/submit/", review.case_submit, name="case_submit"),
    path("cases/<case:case_number>/review/precedents/", precedents.case_precedents, name="case_precedents"),
    # The precedent library (reviews.views.precedents): issued determinations, read as public copies.
    path("precedents/", precedents.precedent_search, name="precedent_search"),
    path("precedents/chart/", precedents.precedent_chart, name="precedent_chart"),
    path("precedents/<case:case_number>/", precedents.precedent_public_copy, name="precedent_public_copy"),
]
