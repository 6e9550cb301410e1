using System.Net.Sockets;
using System.Text;

namespace Cinnabar.Cli.Resp;

/// <summary>A reply: simple string, error, integer, bulk (null when nil) or array (null when nil).</summary>
public sealed class RespValue
{
    public char Type;             // '+', '-', ':', '$', '*'
    public string Text;           // simple / error / bulk text (Latin-1, so bytes survive), null for a nil bulk
    public long Integer;
    public RespValue[] Items;     // arrays; null for a nil array

    public bool IsError => Type == '-';
    public bool IsNil => (Type == '$' && Text == null) || (Type == '*' && Items == null);
    public override string ToString() => Type switch
    {
        ':' => Integer.ToString(),
        '*' => Items == null ? "(nil)" : "[" + string.Join(", ", Items.Select(i => i.ToString())) + "]",
        _ => Text ?? "(nil)",
    };
}

/// <summary>
/// A blocking RESP2 connection to one node, with a timeout on every call. The tool talks to a handful of nodes a
/// few times a second at most, so simplicity beats throughput here; a pipeline is still available for bulk moves.
/// </summary>
public sealed class RedisConnection : IDisposable
{
    readonly Socket socket;
    readonly byte[] buffer = new byte[64 * 1024];
    int start, end;
    public readonly string Host;
    public readonly int Port;

    public RedisConnection(string host, int port, int timeoutMs = 5000)
    {
        Host = host;
        Port = port;
        socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = timeoutMs, SendTimeout = timeoutMs };
        var connect = socket.BeginConnect(host, port, null, null);
        if (!connect.AsyncWaitHandle.WaitOne(timeoutMs))
        {
            socket.Close();
            throw new SocketException((int)SocketError.TimedOut);
        }
        socket.EndConnect(connect);
    }

    public string Address => Host + ":" + Port;

    /// <summary>"host:port" → (host, port); the port may follow the last colon (IPv6 hosts keep theirs).</summary>
    public static (string host, int port) ParseAddress(string address)
    {
        int colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], out int port)) throw new FormatException("Invalid address: " + address);
        return (address[..colon], port);
    }

    public static byte[] Encode(IReadOnlyList<string> args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Count).Append("\r\n");
        foreach (var a in args)
        {
            int len = Encoding.Latin1.GetByteCount(a);
            sb.Append('$').Append(len).Append("\r\n").Append(a).Append("\r\n");
        }
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    public RespValue Call(params string[] args)
    {
        socket.Send(Encode(args));
        return Read();
    }

    /// <summary>Sends every command, then reads every reply (one round trip for a batch).</summary>
    public RespValue[] Pipeline(IReadOnlyList<string[]> commands)
    {
        var all = new List<byte>();
        foreach (var c in commands) all.AddRange(Encode(c));
        socket.Send(all.ToArray());
        var replies = new RespValue[commands.Count];
        for (int i = 0; i < replies.Length; i++) replies[i] = Read();
        return replies;
    }

    public RespValue Read()
    {
        string line = ReadLine();
        char type = line[0];
        string rest = line[1..];
        switch (type)
        {
            case '+': case '-': return new RespValue { Type = type, Text = rest };
            case ':': return new RespValue { Type = ':', Integer = long.Parse(rest) };
            case '$':
            {
                int len = int.Parse(rest);
                if (len < 0) return new RespValue { Type = '$' };
                var bytes = ReadExactly(len + 2);
                return new RespValue { Type = '$', Text = Encoding.Latin1.GetString(bytes, 0, len) };
            }
            case '*':
            {
                int n = int.Parse(rest);
                if (n < 0) return new RespValue { Type = '*' };
                var items = new RespValue[n];
                for (int i = 0; i < n; i++) items[i] = Read();
                return new RespValue { Type = '*', Items = items };
            }
            default: throw new IOException("Protocol error: " + line);
        }
    }

    string ReadLine()
    {
        while (true)
        {
            int nl = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (nl >= 0)
            {
                string line = Encoding.Latin1.GetString(buffer, start, nl - start).TrimEnd('\r');
                start = nl + 1;
                return line;
            }
            Fill();
        }
    }

    byte[] ReadExactly(int count)
    {
        var result = new byte[count];
        int have = 0;
        while (have < count)
        {
            if (start == end) Fill();
            int n = Math.Min(count - have, end - start);
            Buffer.BlockCopy(buffer, start, result, have, n);
            start += n;
            have += n;
        }
        return result;
    }

    void Fill()
    {
        if (start > 0 && start == end) start = end = 0;
        if (end == buffer.Length)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        int n = socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
        if (n == 0) throw new IOException("Connection closed by the server");
        end += n;
    }

    public void Dispose() => socket.Dispose();
}
