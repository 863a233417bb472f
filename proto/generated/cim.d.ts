import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace cim {

    enum BaseCommand {
        LOGIN_REQUEST = 0,
        MESSAGE = 1,
        PING = 2,
        OFFLINE = 3,
        LOGIN_REPLY = 10,
        ACK = 11,
        KICK = 12
    }

    interface IRequest extends cim.Request.$Properties {
    }

    class Request {
        constructor(p?: cim.Request.$Properties);
        $unknowns?: Uint8Array[];
        reqMsg: string;
        requestId: number;
        cmd: cim.BaseCommand;
        properties: { [k: string]: string };
        batchReqMsg: string[];
        static create(properties: cim.Request.$Shape): cim.Request & cim.Request.$Shape;
        static create(properties?: cim.Request.$Properties): cim.Request;
        static encode(m: cim.Request.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
        static decode(r: ($protobuf.Reader|Uint8Array), l?: number): cim.Request & cim.Request.$Shape;
        static fromObject(d: { [k: string]: any }): cim.Request;
        static toObject(m: cim.Request, o?: $protobuf.IConversionOptions): { [k: string]: any };
        toJSON(): { [k: string]: any };
        static getTypeUrl(prefix?: string): string;
    }

    namespace Request {
        interface $Properties {
            reqMsg?: (string|null);
            requestId?: (number|null);
            cmd?: (cim.BaseCommand|null);
            properties?: ({ [k: string]: string }|null);
            batchReqMsg?: (string[]|null);
            $unknowns?: Uint8Array[];
        }
        type $Shape = cim.Request.$Properties;
    }

    interface IResponse extends cim.Response.$Properties {
    }

    class Response {
        constructor(p?: cim.Response.$Properties);
        $unknowns?: Uint8Array[];
        resMsg: string;
        responseId: number;
        cmd: cim.BaseCommand;
        properties: { [k: string]: string };
        batchResMsg: string[];
        static create(properties: cim.Response.$Shape): cim.Response & cim.Response.$Shape;
        static create(properties?: cim.Response.$Properties): cim.Response;
        static encode(m: cim.Response.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
        static decode(r: ($protobuf.Reader|Uint8Array), l?: number): cim.Response & cim.Response.$Shape;
        static fromObject(d: { [k: string]: any }): cim.Response;
        static toObject(m: cim.Response, o?: $protobuf.IConversionOptions): { [k: string]: any };
        toJSON(): { [k: string]: any };
        static getTypeUrl(prefix?: string): string;
    }

    namespace Response {
        interface $Properties {
            resMsg?: (string|null);
            responseId?: (number|null);
            cmd?: (cim.BaseCommand|null);
            properties?: ({ [k: string]: string }|null);
            batchResMsg?: (string[]|null);
            $unknowns?: Uint8Array[];
        }
        type $Shape = cim.Response.$Properties;
    }
}
