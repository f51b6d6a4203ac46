import type { NodeAPI, NodeDef } from 'node-red';
import { numberOr, textOrEnv } from '../../lib/form-values';
import { PgService } from '../../lib/pg/service';
import type { PgConfigCredentials, PgConfigNode } from './pg-config-node';

interface PgConfigDef extends NodeDef {
  connection: 'url' | 'fields';
  url: string;
  urlType?: string;
  host: string;
  port: string | number;
  database: string;
  user: string;
  ssl: 'disable' | 'require' | 'verify-full';
  poolSize: string | number;
  applicationName: string;
  schemaMedallion: string;
  schemaBronze: string;
  schemaSilver: string;
  schemaGold: string;
}

export = (RED: NodeAPI) => {
  function PgConfig(this: PgConfigNode, def: PgConfigDef) {
    RED.nodes.createNode(this, def);
    const password = this.credentials?.password || undefined;
    const common = {
      password,
      ssl: def.ssl || 'disable',
      poolSize: numberOr(def.poolSize, 10),
      applicationName: def.applicationName || undefined,
    };
    const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
    try {
      this.service = new PgService({
        connection:
          def.connection === 'fields'
            ? {
                ...common,
                host: def.host,
                port: numberOr(def.port, 5432),
                database: def.database,
                user: def.user,
              }
            : { ...common, url: textOrEnv(def.url, def.urlType, env, 'URL') },
        schemas: {
          medallion: def.schemaMedallion || 'medallion',
          bronze: def.schemaBronze || 'bronze',
          silver: def.schemaSilver || 'silver',
          gold: def.schemaGold || 'gold',
        },
        onWarning: (message) => this.warn(message),
      });
    } catch (err) {
      this.configError = `PostgreSQL configuration "${def.name || def.id}": ${(err as Error).message}`;
      this.error(this.configError);
    }
    this.on('close', (_removed: boolean, done: () => void) => {
      if (!this.service) return done();
      this.service.close().then(done, (err: Error) => {
        this.warn(`closing the PostgreSQL pool: ${err.message}`);
        done();
      });
    });
  }

  RED.nodes.registerType<PgConfigNode, PgConfigDef, unknown, PgConfigCredentials>(
    'medallion-pg-config',
    PgConfig,
    {
      credentials: { password: { type: 'password' } },
    },
  );
};
