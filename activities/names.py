"""Activity names, the only part of `activities/` that workflows import."""

REGISTER_ISV = "onboarding.register_isv"
RECORD_ONBOARDING_STEP = "onboarding.record_step"
SEND_ONBOARDING_NOTICE = "onboarding.send_notice"
PUBLISH_APP = "catalogue.publish_app"
