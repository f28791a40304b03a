DROP TABLE scim_requests;
DROP TABLE org_rate_limits;
DROP TABLE api_tokens;
