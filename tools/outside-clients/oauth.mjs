// A standard OAuth library (oauth4webapi, strict by design) against the local stack:
// RFC 8414 discovery from the address make dev serves on (the issuer must match it), RFC
// 9068 validation of our access token with the JWKS the metadata points at, and an RFC
// 6749 refresh at the metadata's token endpoint. run.py passes the issuer, a token pair
// and the audience; any refusal throws, and node exits non-zero.
import * as oauth from 'oauth4webapi'

const [issuerUrl, accessToken, refreshToken, audience] = process.argv.slice(2)
const issuer = new URL(issuerUrl)
// make dev serves plain HTTP on loopback; the library refuses it unless told.
const insecure = { [oauth.allowInsecureRequests]: true }

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)
const request = new Request(new URL('/users/profile', issuer), {
  headers: { authorization: `Bearer ${accessToken}` },
})
const claims = await oauth.validateJwtAccessToken(as, request, audience, insecure)
const client = { client_id: claims.client_id }
const refreshed = await oauth.processRefreshTokenResponse(
  as,
  client,
  await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, insecure),
)
console.log(JSON.stringify({
  issuer: as.issuer,
  jwks_uri: as.jwks_uri,
  token_endpoint: as.token_endpoint,
  sub: claims.sub,
  client_id: claims.client_id,
  refreshed: typeof refreshed.access_token === 'string',
}))
