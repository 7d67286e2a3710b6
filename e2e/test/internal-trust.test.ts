// Which process holds which internal secret: the gateway's secret for auth's session resolution is
// read by the gateway and auth only; the services auth calls for exports hold no secret at all
// (they verify auth's signed service tokens against its JWKS). Before, every process read one
// INTERNAL_API_TOKEN that opened every /internal/* route.
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { loadAuthConfig } from '../../services/auth/src/config.js';
import { loadLedgerConfig } from '../../services/credits-ledger/src/config.js';
import { loadGenerationConfig } from '../../services/generation/src/config.js';
import { loadBillingConfig } from '../../services/billing/src/config.js';
import { loadNotificationConfig } from '../../services/notification/src/config.js';

const env = { NODE_ENV: 'development', INTERNAL_API_TOKEN: 'a-secret-only-two-processes-hold-0123' };

describe('internal secrets', () => {
  it('only the gateway and auth read INTERNAL_API_TOKEN', () => {
    const readers = Object.entries({
      gateway: loadGatewayConfig,
      auth: loadAuthConfig,
      'credits-ledger': loadLedgerConfig,
      generation: loadGenerationConfig,
      billing: loadBillingConfig,
      notification: loadNotificationConfig,
    })
      .filter(([, load]) => 'INTERNAL_API_TOKEN' in (load(env as NodeJS.ProcessEnv) as object))
      .map(([name]) => name);
    expect(readers).toEqual(['gateway', 'auth']);
  });
});
