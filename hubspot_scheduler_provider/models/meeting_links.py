"""Meeting pages: listing links, a page's booking info and its availability.

Times named ``*_millis_utc``, ``start``/``end`` of busy ranges and custom availability dates are Unix
milliseconds; ``durations`` and ``meeting_duration_millis`` are milliseconds in every API version.
Enumerations in responses are plain strings so a value HubSpot adds later does not fail a DAG.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 (pydantic resolves annotations at runtime)

from pydantic import StrictBool  # noqa: TC002 (pydantic resolves annotations at runtime)

from hubspot_scheduler_provider.models._base import RequestModel, ResponseModel


class NextPage(ResponseModel):
    __spec_schema__ = "NextPage"

    after: str
    link: str | None = None


class PreviousPage(ResponseModel):
    __spec_schema__ = "PreviousPage"

    before: str
    link: str | None = None


class Paging(ResponseModel):
    __spec_schema__ = "Paging"

    next: NextPage | None = None
    prev: PreviousPage | None = None


class MeetingLink(ResponseModel):
    """One meeting page (scheduling link)."""

    __spec_schema__ = "ExternalLinkMetadata"

    created_at: datetime
    default_link: StrictBool
    id: str
    link: str
    name: str | None = None
    organizer_user_id: str
    #: Only in the v3 and 2026-03 specs.
    payment_link_id: str | None = None
    slug: str
    type: str
    updated_at: datetime | None = None
    user_ids_of_link_members: list[str]


class MeetingLinkPage(ResponseModel):
    __spec_schema__ = "CollectionResponseWithTotalExternalLinkMetadata"

    paging: Paging | None = None
    results: list[MeetingLink]
    total: int


class TimeRange(ResponseModel):
    __spec_schema__ = "ExternalTimeRange"

    end: int
    start: int


class UserProfile(ResponseModel):
    __spec_schema__ = "ExternalUserProfile"

    email: str
    first_name: str | None = None
    full_name: str | None = None
    last_name: str | None = None


class MeetingsUser(ResponseModel):
    __spec_schema__ = "ExternalMeetingsUser"

    calendar_provider: str
    id: str
    is_sales_starter: StrictBool
    user_id: str
    user_profile: UserProfile


class UserBusyTimes(ResponseModel):
    __spec_schema__ = "ExternalUserBusyTimes"

    busy_times: list[TimeRange]
    is_offline: StrictBool
    meetings_user: MeetingsUser


class MeetingAvailability(ResponseModel):
    __spec_schema__ = "ExternalMeetingAvailability"

    end_millis_utc: int
    start_millis_utc: int


class LinkAvailabilityForDuration(ResponseModel):
    __spec_schema__ = "ExternalLinkAvailabilityForDuration"

    availabilities: list[MeetingAvailability]
    meeting_duration_millis: int


class LinkAvailability(ResponseModel):
    __spec_schema__ = "ExternalLinkAvailability"

    has_more: StrictBool
    #: Keyed by the duration in milliseconds, as a string.
    link_availability_by_duration: dict[str, LinkAvailabilityForDuration]


class ClosedRange(ResponseModel):
    __spec_schema__ = "ExternalClosedRange"

    end: int
    start: int


class LinkDisplayInfo(ResponseModel):
    __spec_schema__ = "ExternalLinkDisplayInfo"

    avatar: str | None = None
    company_avatar: str | None = None
    headline: str | None = None
    public_display_avatar_option: str | None = None


class FormFieldOption(ResponseModel):
    __spec_schema__ = "ExternalOption"

    description: str
    display_order: int
    double_data: float
    hidden: StrictBool
    label: str
    read_only: StrictBool
    value: str


class LinkFormField(ResponseModel):
    """A question on the meeting page's form; ``is_required`` ones must be answered in the booking."""

    __spec_schema__ = "ExternalLinkFormField"

    field_type: str
    is_custom: StrictBool
    is_required: StrictBool
    label: str
    name: str
    options: list[FormFieldOption]
    type: str


class GuestSettings(ResponseModel):
    __spec_schema__ = "ExternalGuestSettings"

    can_add_guests: StrictBool
    max_guest_count: int


class CommunicationConsentCheckbox(ResponseModel):
    __spec_schema__ = "ExternalCommunicationConsentCheckbox"

    communication_type_id: str
    label: str
    required: StrictBool


class LegalConsentOptions(ResponseModel):
    __spec_schema__ = "ExternalLegalConsentOptions"

    communication_consent_checkboxes: list[CommunicationConsentCheckbox]
    communication_consent_text: str
    is_legitimate_interest: StrictBool
    legitimate_interest_legal_basis: str | None = None
    legitimate_interest_subscription_types: list[int]
    privacy_policy_text: str
    processing_consent_checkbox_label: str
    processing_consent_footer_text: str
    processing_consent_text: str
    processing_consent_type: str


class WelcomeScreenInfo(ResponseModel):
    __spec_schema__ = "ExternalMeetingsWelcomeScreenInfo"

    description: str | None = None
    logo_url: str | None = None
    show_welcome_screen: StrictBool | None = None
    title: str | None = None
    use_company_logo: StrictBool | None = None


class MeetingLinkSettings(ResponseModel):
    """How a meeting page is set up: offered durations (ms), form fields, consent options..."""

    __spec_schema__ = "ExternalMeetingsLinkSettings"

    availability: dict[str, ClosedRange]
    custom_availability_end_date: int | None = None
    custom_availability_start_date: int | None = None
    display_info: LinkDisplayInfo | None = None
    durations: list[int]
    form_fields: list[LinkFormField]
    guest_settings: GuestSettings | None = None
    language: str | None = None
    legal_consent_enabled: StrictBool
    legal_consent_options: LegalConsentOptions | None = None
    locale: str | None = None
    location: str | None = None
    meeting_buffer_time: int
    owner_prioritized: StrictBool
    redirect_url: str | None = None
    start_time_increment_minutes: str
    weeks_to_advertise: int
    welcome_screen_info: WelcomeScreenInfo | None = None


class BrandingMetadata(ResponseModel):
    __spec_schema__ = "ExternalBrandingMetadata"

    accent2_color: str | None = None
    accent_color: str | None = None
    company_address_line1: str | None = None
    company_address_line2: str | None = None
    company_avatar: str | None = None
    company_city: str | None = None
    company_country: str | None = None
    company_domain: str | None = None
    company_name: str | None = None
    company_state: str | None = None
    company_zip: str | None = None
    logo_alt_text: str
    logo_height: int | None = None
    logo_url: str | None = None
    logo_width: int | None = None
    primary_color: str | None = None
    secondary_color: str | None = None
    show_marketing_ad: StrictBool
    show_sales_ad: StrictBool


class BookingInfo(ResponseModel):
    """Everything needed to book on a page: its settings, availability and the members' busy times."""

    __spec_schema__ = "ExternalBookingInfo"

    all_users_busy_times: list[UserBusyTimes]
    branding_metadata: BrandingMetadata | None = None
    custom_params: MeetingLinkSettings
    is_offline: StrictBool
    link_availability: LinkAvailability | None = None
    link_id: str
    link_type: str


class AvailabilityPage(ResponseModel):
    """One month (``monthOffset``) of a page's availability."""

    __spec_schema__ = "ExternalLinkAvailabilityAndBusyTimes"

    all_users_busy_times: list[UserBusyTimes]
    link_availability: LinkAvailability | None = None


class MeetingLinkUpdateRequest(RequestModel):
    """Body of ``PATCH /scheduler/v3/meetings/meeting-links/{slug}`` (v3 only)."""

    __spec_schema__ = "ExternalMeetingsLinkUpdateRequest"

    payment_link_id: str | None = None
