using System.Net.Sockets;
using System.Text;

namespace Cinnabar.Tests.Infrastructure;

/// <summary>
/// A plain RESP client over a real socket: sends requests and reads back exactly one reply as raw bytes,
/// so tests compare what went over the wire rather than a client library's interpretation of it.
/// </summary>
public sealed class RespConnection : IDisposable
{
    readonly Socket socket;
    readonly byte[] buffer = new byte[64 * 1024];
    int start, end;

    public RespConnection(int port, TimeSpan? timeout = null)
    {
        socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        int ms = (int)(timeout ?? TimeSpan.FromSeconds(10)).TotalMilliseconds;
        socket.ReceiveTimeout = ms;
        socket.SendTimeout = ms;
        socket.Connect("127.0.0.1", port);
    }

    public static byte[] Encode(IReadOnlyList<byte[]> args)
    {
        var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes($"*{args.Count}\r\n"));
        foreach (var a in args)
        {
            ms.Write(Encoding.ASCII.GetBytes($"${a.Length}\r\n"));
            ms.Write(a);
            ms.Write("\r\n"u8);
        }
        return ms.ToArray();
    }

    public void Send(byte[] data) => socket.Send(data);

    public string Call(params string[] args) => Latin1(CallRaw(args.Select(a => Encoding.UTF8.GetBytes(a)).ToArray()));

    public byte[] CallRaw(IReadOnlyList<byte[]> args)
    {
        Send(Encode(args));
        return ReadReply();
    }

    public static string Latin1(byte[] b) => Encoding.Latin1.GetString(b);

    /// <summary>True when the server closed the connection (reads EOF within the timeout).</summary>
    public bool IsClosedByServer(TimeSpan timeout)
    {
        socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            if (start < end) return false;
            int n = socket.Receive(buffer, 0, buffer.Length, SocketFlags.None);
            if (n == 0) return true;
            end = n;
            start = 0;
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
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
        if (n == 0) throw new IOException("connection closed by server");
        end += n;
    }

    byte[] ReadLine(MemoryStream into)
    {
        while (true)
        {
            int i = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (i >= 0)
            {
                var line = buffer.AsSpan(start, i - start + 1).ToArray();
                into.Write(line);
                start = i + 1;
                return line;
            }
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }
            if (end == buffer.Length) throw new IOException("reply line longer than 64 KiB");
            int n = socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
            if (n == 0) throw new IOException("connection closed by server");
            end += n;
        }
    }

    void ReadExact(MemoryStream into, long n)
    {
        while (n > 0)
        {
            if (start == end) Fill();
            int take = (int)Math.Min(n, end - start);
            into.Write(buffer, start, take);
            start += take;
            n -= take;
        }
    }

    public byte[] ReadReply()
    {
        var ms = new MemoryStream();
        ReadValue(ms);
        return ms.ToArray();
    }

    void ReadValue(MemoryStream ms)
    {
        var line = ReadLine(ms);
        char type = (char)line[0];
        string body = Encoding.ASCII.GetString(line, 1, line.Length - 3);
        switch (type)
        {
            case '$':
            case '=':
            case '!':
                long n = long.Parse(body);
                if (n >= 0) ReadExact(ms, n + 2);
                break;
            case '*':
            case '~':
            case '>':
            case '%':
            case '|':
                long count = long.Parse(body);
                if (type is '%' or '|') count *= 2;
                for (long i = 0; i < count; i++) ReadValue(ms);
                break;
        }
    }

    public void Dispose() => socket.Dispose();
}
